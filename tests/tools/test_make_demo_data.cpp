// Tests of tools/make_demo_data through the runner (tools/make_demo_data.cpp over
// data/synthetic_dataset.h, tools/runner.h): the SIIM-shaped layout, labels that match the rendered lesions,
// folds and submission files, byte-identical reruns whatever the thread count, and argument checking.
#include <algorithm>
#include <filesystem>
#include <map>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/tools/tools_testing.h"
#include "data/csv.h"
#include "data/dicom.h"
#include "data/folds.h"
#include "data/rle_csv.h"
#include "data/synthetic_dataset.h"
#include "tools/tools.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::data;
using namespace pleura::testing;

namespace {

using Run = ToolRun;

Run run(const std::vector<std::string>& args) { return run_tool(tools::make_demo_data_tool(), args); }

// Every regular file under `dir`, relative path -> bytes.
std::map<std::string, std::string> tree(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = slurp(e.path().string());
  }
  return files;
}

}  // namespace

TEST_CASE("make_demo_data: SIIM layout, labels matching the rendered lesions, folds, submission") {
  TempDir dir;
  const std::string out = dir.file("demo");
  Run r = run({"--out", out, "--train", "12", "--test", "4", "--size", "64", "--seed", "3", "--threads", "2"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("12 training images (3 positive)") != std::string::npos);  // round(0.22 * 12) = 3

  // DICOM files three folders deep, named <ImageId>.dcm, 64x64 JPEG baseline MONOCHROME2 8-bit.
  std::vector<std::string> train_files;
  for (const auto& e : fs::recursive_directory_iterator(out + "/dicom-images-train")) {
    if (!e.is_regular_file()) continue;
    const fs::path relative = fs::relative(e.path(), out + "/dicom-images-train");  // <study>/<series>/<id>.dcm
    CHECK(std::distance(relative.begin(), relative.end()) == 3);
    CHECK(relative.extension() == ".dcm");
    train_files.push_back(e.path().string());
  }
  REQUIRE(train_files.size() == 12);
  DicomInfo info = read_dicom_info(train_files[0]);
  CHECK(info.rows == 64);
  CHECK(info.columns == 64);
  CHECK(info.transfer_syntax_uid == "1.2.840.10008.1.2.4.50");
  CHECK(info.bits_allocated == 8);
  CHECK(!info.monochrome1);

  // Labels: SIIM train header, every training image listed, rows equal to the rendered lesions.
  CHECK(slurp(out + "/train-rle.csv").rfind("ImageId, EncodedPixels\n", 0) == 0);
  RleLabels labels = RleLabels::read(out + "/train-rle.csv", RleFormat::kSiimRelative);
  CHECK(labels.ids().size() == 12);
  const std::vector<DemoImagePlan> plan = plan_demo_split("train", 12, 3);
  int positives = 0;
  for (const DemoImagePlan& p : plan) {
    CAPTURE(p.image_id);
    REQUIRE(labels.contains(p.image_id));
    const SyntheticChest chest = render_synthetic_chest(64, Difficulty::kRealistic, p.lesions, p.seed);
    CHECK(labels.rows(p.image_id).size() == std::max<size_t>(1, chest.lesions.size()));
    GrayImage all(64, 64, 0);
    for (const GrayImage& l : chest.lesions) {
      for (size_t i = 0; i < all.pixels.size(); ++i) all.pixels[i] |= l.pixels[i];
    }
    CHECK(labels.mask(p.image_id, 64, 64).pixels == all.pixels);
    positives += labels.positive(p.image_id);
    // The stored JPEG is close to the rendered pixels (lossy at quality 95: a few grey levels).
    const std::string path = out + "/dicom-images-train/" + p.study_uid + "/" + p.series_uid + "/" + p.image_id + ".dcm";
    const GrayImage stored = read_dicom(path);
    int64_t total_diff = 0;
    for (size_t i = 0; i < stored.pixels.size(); ++i) total_diff += std::abs(stored.pixels[i] - chest.image.pixels[i]);
    CHECK(static_cast<double>(total_diff) / static_cast<double>(stored.pixels.size()) < 3.0);
  }
  CHECK(positives == 3);

  Folds folds = read_folds(out + "/train_folds_5.csv");
  CHECK(folds.num_folds == 5);
  CHECK(folds.entries.size() == 12);
  CHECK_NOTHROW(check_folds(folds, labels, ""));

  RleLabels truth = RleLabels::read(out + "/test-rle.csv", RleFormat::kSiimRelative);
  RleLabels submission = RleLabels::read(out + "/sample_submission.csv", RleFormat::kSiimRelative);
  CHECK(truth.ids().size() == 4);
  CHECK(submission.ids() == truth.ids());
  for (const std::string& id : submission.ids()) CHECK(!submission.positive(id));
  CHECK(slurp(out + "/sample_submission.csv").rfind("ImageId,EncodedPixels\n", 0) == 0);
}

TEST_CASE("make_demo_data: two runs give identical files, whatever the thread count") {
  TempDir dir;
  for (const std::string difficulty : {"realistic", "demo"}) {
    const std::string a = dir.file("a_" + difficulty), b = dir.file("b_" + difficulty);
    REQUIRE(run({"--out", a, "--train", "10", "--test", "3", "--size", "48", "--seed", "9", "--threads", "1",
                 "--difficulty", difficulty})
                .code == 0);
    REQUIRE(run({"--out", b, "--train", "10", "--test", "3", "--size", "48", "--seed", "9", "--threads", "3",
                 "--difficulty", difficulty})
                .code == 0);
    const auto ta = tree(a), tb = tree(b);
    CHECK(ta.size() == 10 + 3 + 4);
    CHECK(ta == tb);
  }
  // Another seed gives other images and ids.
  REQUIRE(run({"--out", dir.file("c"), "--train", "10", "--test", "3", "--size", "48", "--seed", "10"}).code == 0);
  CHECK(slurp(dir.file("c/train-rle.csv")) != slurp(dir.file("a_realistic/train-rle.csv")));
}

TEST_CASE("make_demo_data: strict arguments, clear errors, exit codes") {
  TempDir dir;
  Run help = run({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("usage: make_demo_data --out DIR") != std::string::npos);
  CHECK(help.out.find("--difficulty D") != std::string::npos);
  auto usage_error = [&](const std::vector<std::string>& args, const std::string& part) {
    Run r = run(args);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(part) != std::string::npos);
  };
  usage_error({}, "missing required option --out");
  usage_error({"--out", dir.file("x"), "--train", "3"}, "--train is 3, expected 5..100000");
  usage_error({"--out", dir.file("x"), "--size", "big"}, "--size expects an integer in 32..4096, got 'big'");
  usage_error({"--out", dir.file("x"), "--difficulty", "hard"}, "expected realistic or demo");
  usage_error({"--out", dir.file("x"), "--colour"}, "unknown option --colour");
  usage_error({"--out", dir.file("x"), "--out", dir.file("y")}, "given twice");
  usage_error({"--out"}, "--out needs a value");
  usage_error({"--out", dir.file("x"), "extra"}, "unexpected argument 'extra'");
  usage_error({"--out", dir.file("x"), "--overwrite=yes"}, "takes no value");
  // An existing data set is not replaced unless asked.
  REQUIRE(run({"--out=" + dir.file("d"), "--train=5", "--test=0", "--size=32"}).code == 0);
  Run again = run({"--out", dir.file("d"), "--train", "5", "--test", "0", "--size", "32"});
  CHECK(again.code == 1);
  CHECK(again.err.find("is not empty") != std::string::npos);
  CHECK(run({"--out", dir.file("d"), "--train", "6", "--test", "1", "--size", "32", "--overwrite"}).code == 0);
  CHECK(RleLabels::read(dir.file("d/train-rle.csv"), RleFormat::kSiimRelative).ids().size() == 6);
}
