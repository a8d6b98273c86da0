// Building the list of checkpoints infer_unet averages (see checkpoints.h).
#include "infer/checkpoints.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "engine/error.h"
#include "data/csv.h"

namespace fs = std::filesystem;

namespace pleura::infer {
namespace {

std::string fold_name(int64_t fold) { return cat("fold", fold); }

// The first two comma-separated fields of a line (the triplet columns after them are quoted and may hold
// commas; they are not read).
bool first_two_fields(const std::string& line, std::string& a, std::string& b) {
  const size_t c1 = line.find(',');
  if (c1 == std::string::npos) return false;
  const size_t c2 = line.find(',', c1 + 1);
  a = line.substr(0, c1);
  b = line.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
  return true;
}

std::string join_epochs(const std::vector<int64_t>& epochs) {
  std::string s;
  for (size_t i = 0; i < epochs.size(); ++i) s += cat(i ? ", " : "", epochs[i]);
  return s.empty() ? "none" : s;
}

}  // namespace

std::string best_checkpoint_path(const PipelineSelection& p, int64_t fold) {
  return (fs::path(p.path) / p.best_folder / cat(p.name, "_", fold_name(fold), ".safetensors")).string();
}

std::string epoch_checkpoint_path(const PipelineSelection& p, int64_t fold, int64_t epoch) {
  return (fs::path(p.path) / p.full_folder / fold_name(fold) /
          cat(p.name, "_", fold_name(fold), "_epoch", epoch, ".safetensors"))
      .string();
}

std::string summary_path(const PipelineSelection& p, int64_t fold) {
  return (fs::path(p.path) / p.full_folder / fold_name(fold) / "summary.csv").string();
}

std::vector<SummaryRow> read_summary(const std::string& path) {
  PLEURA_CHECK(fs::is_regular_file(path), "summary file ", path, " does not exist (it lists the validated epochs "
               "of a fold; train_unet writes it)");
  const std::vector<data::CsvLine> lines = data::read_csv_lines(path);
  std::string a, b;
  PLEURA_CHECK(!lines.empty() && first_two_fields(lines[0].text + ",", a, b) && a == "epoch" && b == "best_metric",
               path, ":1: expected a header starting 'epoch,best_metric'");
  // A later row of an epoch replaces the earlier ones (see the header).
  std::map<int64_t, SummaryRow> last_row;
  for (size_t i = 1; i < lines.size(); ++i) {
    const data::CsvLine& line = lines[i];
    PLEURA_CHECK(first_two_fields(line.text, a, b), path, ":", line.number, ": expected epoch,best_metric,...");
    SummaryRow row;
    row.line = line.number;
    PLEURA_CHECK(data::parse_nonnegative(a, int64_t{1} << 40, row.epoch), path, ":", line.number, ": epoch '", a,
                 "' is not a non-negative integer");
    errno = 0;
    char* end = nullptr;
    row.best_metric = std::strtod(b.c_str(), &end);
    PLEURA_CHECK(!b.empty() && *end == '\0' && errno == 0 && std::isfinite(row.best_metric), path, ":", line.number,
                 ": best_metric '", b, "' is not a finite number");
    last_row[row.epoch] = row;
  }
  std::vector<SummaryRow> rows;
  for (const auto& [epoch, row] : last_row) rows.push_back(row);
  std::sort(rows.begin(), rows.end(), [](const SummaryRow& x, const SummaryRow& y) { return x.line < y.line; });
  return rows;
}

std::vector<int64_t> top_k_epochs(const PipelineSelection& p, int64_t fold, int64_t k) {
  PLEURA_CHECK(k >= 1, "[top_k_epochs] k is ", k, ", expected at least 1");
  const std::string summary = summary_path(p, fold);
  struct Candidate {
    double score;
    std::string file;
    int64_t epoch;
  };
  std::vector<Candidate> found;
  std::vector<int64_t> listed;
  for (const SummaryRow& row : read_summary(summary)) {
    listed.push_back(row.epoch);
    const std::string path = epoch_checkpoint_path(p, fold, row.epoch);
    if (fs::is_regular_file(path)) found.push_back({row.best_metric, fs::path(path).filename().string(), row.epoch});
  }
  // Highest score first; on equal scores the file name that sorts last first: the heap of the trainer (and
  // of the reference's Learning.py) pops the smallest (score, path), so of two equal scores it keeps the
  // larger path.
  std::sort(found.begin(), found.end(), [](const Candidate& x, const Candidate& y) {
    return x.score != y.score ? x.score > y.score : x.file > y.file;
  });
  std::vector<int64_t> on_disk;
  for (const Candidate& c : found) on_disk.push_back(c.epoch);
  PLEURA_CHECK(static_cast<int64_t>(found.size()) >= k, "fold ", fold, ": --top-k ", k, " needs ", k,
               " epoch checkpoints, but of the epochs in ", summary, " (", join_epochs(listed), ") only ",
               found.size(), " have their file in ", (fs::path(p.path) / p.full_folder / fold_name(fold)).string(),
               " (", join_epochs(on_disk), ")");
  on_disk.resize(static_cast<size_t>(k));
  return on_disk;
}

std::vector<std::string> pipeline_checkpoints(const PipelineSelection& p) {
  PLEURA_CHECK(!p.name.empty(), "[pipeline_checkpoints] the pipeline name is empty");
  PLEURA_CHECK(fs::is_directory(p.path), "pipeline folder '", p.path, "' does not exist or is not a folder");
  std::vector<std::string> out;
  switch (p.selection) {
    case Selection::kBest:
      PLEURA_CHECK(!p.folds.empty(), "[pipeline_checkpoints] no fold given");
      for (int64_t fold : p.folds) {
        const std::string path = best_checkpoint_path(p, fold);
        PLEURA_CHECK(fs::is_regular_file(path), "fold ", fold, ": the best checkpoint ", path, " does not exist");
        out.push_back(path);
      }
      break;
    case Selection::kTopK:
      PLEURA_CHECK(!p.folds.empty(), "[pipeline_checkpoints] no fold given");
      for (int64_t fold : p.folds)
        for (int64_t epoch : top_k_epochs(p, fold, p.top_k)) out.push_back(epoch_checkpoint_path(p, fold, epoch));
      break;
    case Selection::kEpochs:
      PLEURA_CHECK(!p.epochs.empty(), "[pipeline_checkpoints] no fold given");
      for (const auto& [fold, epochs] : p.epochs) {
        PLEURA_CHECK(!epochs.empty(), "fold ", fold, ": no epoch listed");
        for (int64_t epoch : epochs) {
          const std::string path = epoch_checkpoint_path(p, fold, epoch);
          PLEURA_CHECK(fs::is_regular_file(path), "fold ", fold, ", epoch ", epoch, ": the checkpoint ", path,
                       " does not exist");
          out.push_back(path);
        }
      }
      break;
  }
  return out;
}

void check_checkpoint_files(const std::vector<std::string>& paths) {
  PLEURA_CHECK(!paths.empty(), "no checkpoint given");
  for (const std::string& path : paths)
    PLEURA_CHECK(fs::is_regular_file(path), "weights file ", path, " does not exist or is not a file");
}

}  // namespace pleura::infer
