// Writing the synthetic SIIM-like data set (see synthetic_dataset.h).
#include "data/synthetic_dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "engine/error.h"
#include "engine/file_io.h"
#include "engine/random.h"
#include "data/dicom_write.h"
#include "data/folds.h"
#include "data/jobs.h"
#include "data/progress.h"
#include "data/rle.h"
#include "data/rle_csv.h"

namespace fs = std::filesystem;

namespace pleura::data {
namespace {

constexpr double kPositiveFraction = 0.22;     // SIIM stage 1: 2,379 of 10,679 = 22.3%
constexpr double kTwoLesionFraction = 0.15;    // of the positives
const char* const kOutputs[] = {"dicom-images-train", "dicom-images-test", "train-rle.csv", "test-rle.csv",
                                "train_folds_5.csv", "sample_submission.csv"};

// splitmix64 finaliser: a well-mixed 64-bit value from any input.
uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hash_of(const std::string& text, uint64_t seed) {
  uint64_t h = mix(seed);
  for (unsigned char c : text) h = mix(h ^ c);
  return h;
}

// A UID under the 2.25 arc (a decimal number; at most 5 + 20 characters).
std::string uid_2_25(uint64_t value) { return cat("2.25.", value == 0 ? 1 : value); }

void shuffle(std::vector<int64_t>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(rng.below(i))]);
}

std::string image_folder(const std::string& split) { return split == "train" ? "dicom-images-train" : "dicom-images-test"; }

// One image to draw: its plan and its split.
struct Job {
  const DemoImagePlan* plan;
  bool is_train;
};

// OUT, created; with --overwrite, the files of a data set already there are removed first.
void make_output_folder(const DemoDataOptions& options) {
  const fs::path out(options.out_dir);
  if (fs::exists(out)) {
    PLEURA_CHECK(fs::is_directory(out), options.out_dir, " exists and is not a folder");
    bool empty = fs::is_empty(out);
    PLEURA_CHECK(empty || options.overwrite, options.out_dir,
                 " is not empty; choose a new folder or pass --overwrite to replace a data set there");
    for (const char* name : kOutputs) fs::remove_all(out / name);
  }
  fs::create_directories(out);
}

// OUT/<split's folder>/<study>/<series>/<ImageId>.dcm.
void write_demo_dicom(const fs::path& out, const Job& job, const GrayImage& image, int64_t size) {
  const DemoImagePlan& p = *job.plan;
  const fs::path dir = out / image_folder(job.is_train ? "train" : "test") / p.study_uid / p.series_uid;
  fs::create_directories(dir);
  DicomWriteOptions dicom;
  dicom.sop_instance_uid = p.image_id;
  dicom.study_instance_uid = p.study_uid;
  dicom.series_instance_uid = p.series_uid;
  dicom.patient_id = p.image_id.substr(5, 12);
  dicom.pixel_spacing_mm = 0.168 * 1024.0 / static_cast<double>(size);
  write_dicom_gray8((dir / (p.image_id + ".dcm")).string(), image, dicom);
}

bool has_lesion(const SyntheticChest& chest) {
  bool any = false;
  for (const GrayImage& lesion : chest.lesions) {
    any |= std::any_of(lesion.pixels.begin(), lesion.pixels.end(), [](uint8_t v) { return v != 0; });
  }
  return any;
}

// The label rows of one image: a training image has a row per lesion ("-1" when it has none), a test
// image one row for its lesions united.
std::vector<RleOutputRow> label_rows(const Job& job, const SyntheticChest& chest, int64_t size) {
  const std::string& id = job.plan->image_id;
  std::vector<RleOutputRow> rows;
  if (job.is_train) {
    for (const GrayImage& lesion : chest.lesions) {
      std::string rle = encode_rle(lesion, RleFormat::kSiimRelative);
      if (rle != "-1") rows.push_back({id, std::move(rle)});
    }
    if (rows.empty()) rows.push_back({id, "-1"});
    return rows;
  }
  GrayImage all(size, size, 0);
  for (const GrayImage& lesion : chest.lesions) {
    for (size_t i = 0; i < all.pixels.size(); ++i) all.pixels[i] |= lesion.pixels[i];
  }
  rows.push_back({id, encode_rle(all, RleFormat::kSiimRelative)});
  return rows;
}

// The four CSV files, rows in plan order; counts the positive and two-lesion images into `summary`.
void write_csv_files(const fs::path& out, const std::vector<Job>& jobs,
                     const std::vector<std::vector<RleOutputRow>>& rows, const std::vector<char>& positive,
                     uint64_t seed, DemoDataSummary& summary) {
  std::vector<RleOutputRow> train_rows, test_rows, submission;
  std::vector<std::pair<std::string, bool>> fold_labels;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const DemoImagePlan& p = *jobs[j].plan;
    auto& target = jobs[j].is_train ? train_rows : test_rows;
    target.insert(target.end(), rows[j].begin(), rows[j].end());
    summary.two_lesion += p.lesions == 2;
    if (jobs[j].is_train) {
      summary.train_positive += positive[j];
      fold_labels.emplace_back(p.image_id, positive[j] != 0);
    } else {
      summary.test_positive += positive[j];
      submission.push_back({p.image_id, "-1"});
    }
  }
  write_rle_csv((out / "train-rle.csv").string(), train_rows, RleCsvStyle::kSiimTrain);
  write_rle_csv((out / "test-rle.csv").string(), test_rows, RleCsvStyle::kPlain);
  write_rle_csv((out / "sample_submission.csv").string(), submission, RleCsvStyle::kPlain);
  write_folds((out / "train_folds_5.csv").string(), make_stratified_folds(fold_labels, 5, seed));
}

}  // namespace

std::vector<DemoImagePlan> plan_demo_split(const std::string& split, int64_t count, uint64_t seed) {
  std::vector<DemoImagePlan> plan(static_cast<size_t>(std::max<int64_t>(count, 0)));
  if (count <= 0) return plan;
  Rng rng(hash_of(split + "/lesions", seed));
  int64_t positives = std::llround(kPositiveFraction * static_cast<double>(count));
  if (count >= 2) positives = std::clamp<int64_t>(positives, 1, count - 1);
  std::vector<int64_t> order(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) order[static_cast<size_t>(i)] = i;
  shuffle(order, rng);
  const int64_t two = std::llround(kTwoLesionFraction * static_cast<double>(positives));
  for (int64_t k = 0; k < positives; ++k) plan[static_cast<size_t>(order[static_cast<size_t>(k)])].lesions = k < two ? 2 : 1;
  std::set<std::string> seen;
  for (int64_t i = 0; i < count; ++i) {
    DemoImagePlan& p = plan[static_cast<size_t>(i)];
    const std::string key = cat(split, "/", i);
    p.image_id = uid_2_25(hash_of(key + "/sop", seed));
    p.study_uid = uid_2_25(hash_of(key + "/study", seed));
    p.series_uid = uid_2_25(hash_of(key + "/series", seed));
    p.seed = hash_of(key + "/pixels", seed);
    PLEURA_CHECK(seen.insert(p.image_id).second, "[make_demo_data] ImageId collision at ", key, " (seed ", seed, ")");
  }
  return plan;
}

DemoDataSummary make_demo_dataset(const DemoDataOptions& options, std::ostream& log) {
  PLEURA_CHECK(options.size >= 32 && options.size <= 4096, "--size ", options.size, " is outside 32..4096");
  PLEURA_CHECK(options.train >= 5, "--train ", options.train, " must be at least 5 (5 folds)");
  PLEURA_CHECK(options.test >= 0, "--test ", options.test, " must not be negative");
  make_output_folder(options);
  const fs::path out(options.out_dir);

  const std::vector<DemoImagePlan> train = plan_demo_split("train", options.train, options.seed);
  const std::vector<DemoImagePlan> test = plan_demo_split("test", options.test, options.seed);
  std::vector<Job> jobs;
  for (const DemoImagePlan& p : train) jobs.push_back({&p, true});
  for (const DemoImagePlan& p : test) jobs.push_back({&p, false});
  // Each job renders, writes its DICOM and keeps its label rows; the CSVs are written afterwards in
  // plan order, so the thread count cannot change any byte.
  std::vector<std::vector<RleOutputRow>> rows(jobs.size());
  std::vector<char> positive(jobs.size(), 0);
  Progress progress(log, "make_demo_data", static_cast<int64_t>(jobs.size()), options.terminal);
  run_jobs(static_cast<int64_t>(jobs.size()), options.threads, [&](int64_t j) {
    const Job& job = jobs[static_cast<size_t>(j)];
    const SyntheticChest chest =
        render_synthetic_chest(options.size, options.difficulty, job.plan->lesions, job.plan->seed);
    write_demo_dicom(out, job, chest.image, options.size);
    positive[static_cast<size_t>(j)] = has_lesion(chest);
    rows[static_cast<size_t>(j)] = label_rows(job, chest, options.size);
    progress.advance();
  });
  progress.finish();

  DemoDataSummary summary;
  write_csv_files(out, jobs, rows, positive, options.seed, summary);
  summary.seconds = progress.seconds();
  return summary;
}

}  // namespace pleura::data
