// Tests of tools/rle_submit through the runner (tools/rle_submit.cpp, tools/runner.h): a submission worked
// by hand (at 4x4 so the RLE can be checked on paper), the golden case written by the reference's own
// TripletSubmit code (tests/fixtures/submit/make_golden.py), round trips of known 1024 masks, weighted
// ensembles, min-component removal, and every error path.
#include <filesystem>
#include <fstream>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/eval/eval_testing.h"
#include "tests/tools/tools_testing.h"
#include "data/image_io.h"
#include "data/rle.h"
#include "data/rle_csv.h"
#include "eval/scoring.h"
#include "eval/submission.h"
#include "tools/tools.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

namespace {

ToolRun run(const std::vector<std::string>& args) { return run_tool(tools::rle_submit_tool(), args); }

const std::string kData = std::string(PLEURA_FIXTURES_DIR) + "/submit";

// Three small maps and a sample submission that lists them in another order (one id twice).
struct HandCase {
  TempDir dir;
  std::string probs = dir.file("probs"), sample = dir.file("sample.csv"), out = dir.file("sub.csv");
  HandCase() {
    fs::create_directories(probs);
    write_npy_map(probs + "/m1.npy", 4, 4,
                  {0.9f, 0.8f, 0.1f, 0.0f, 0.6f, 0.3f, 0.2f, 0.0f, 0.26f, 0.25f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.5f});
    write_npy_map(probs + "/m2.npy", 2, 2, {0.9f, 0.1f, 0.1f, 0.9f});
    write_npy_map(probs + "/m3.npy", 2, 2, {0.3f, 0.3f, 0.3f, 0.3f});
    std::ofstream(sample) << "ImageId,EncodedPixels\nm3,-1\nm1,-1\nm2,-1\nm1,-1\n";
  }
};

}  // namespace

TEST_CASE("rle_submit: a submission worked by hand") {
  HandCase c;
  ToolRun r = run({"--probs", c.probs, "--triplet", "0.5,2,0.25", "--sample-submission", c.sample, "--out", c.out,
                   "--height", "4", "--width", "4"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // m1 (4x4, no resize): 3 pixels > 0.5 >= 2, mask p > 0.25 = (0,0) (1,0) (2,0) (0,1) (1,1) (3,3); in
  // column-major order (index x*4 + y) the runs [0,3) [4,6) [15,16): "0 3", then 4-3 = 1 skipped "1 2",
  // then 15-6 = 9 skipped "9 1" (the run reaching the last pixel is written).
  // m2 (2x2 -> 4x4): [255 0; 0 255] upscales to two diagonal 2x2 blocks (see tests/eval/test_submission.cpp):
  // runs [0,2) [4,6) [10,12) [14,16). m3: no pixel > 0.5 < 2: empty.
  CHECK(read_file(c.out) == "ImageId,EncodedPixels\nm3,-1\nm1,0 3 1 2 9 1\nm2,0 2 2 2 4 2 2 2\n");
  CHECK(r.out.find("rle_submit: 3 rows written to " + c.out + " (2 with a mask) in ") == 0);
  ToolRun s = run({"--probs", c.probs, "--triplet", "0.5,2,0.25", "--sample-submission", c.sample, "--out", c.out,
                   "--height", "4", "--width", "4", "--rle", "standard"});
  REQUIRE_MESSAGE(s.code == 0, s.err);
  CHECK(read_file(c.out) == "ImageId,EncodedPixels\nm3,-1\nm1,1 3 5 2 16 1\nm2,1 2 5 2 11 2 15 2\n");
}

TEST_CASE("rle_submit: the reference's TripletSubmit output, reproduced byte for byte") {
  // make_golden.py ran the reference's apply_thresholds + mask2rle (OpenCV 4.10) on these maps: 128x128
  // and 96x160 PNGs and a 64x64 npy upscaled to 1024, and a map whose top count is under the area.
  TempDir dir;
  ToolRun r = run({"--probs", kData + "/golden_maps", "--triplet", "0.75,60,0.4", "--sample-submission",
                   kData + "/golden_sample.csv", "--out", dir.file("sub.csv")});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(read_file(dir.file("sub.csv")) == read_file(kData + "/golden_submission.csv"));
  CHECK(r.out.find("4 rows written") != std::string::npos);
  CHECK(r.out.find("(3 with a mask)") != std::string::npos);
}

TEST_CASE("rle_submit: maps made from known 1024 masks give back the masks' RLE; the score is 1") {
  TempDir dir;
  const std::string probs = dir.file("probs");
  fs::create_directories(probs);
  std::vector<data::RleOutputRow> truth_rows, truth_std;
  std::vector<GrayImage> masks{random_mask(1024, 1024, 1, 0.03), random_mask(1024, 1024, 2, 0.01),
                               GrayImage(1024, 1024, 0), random_mask(1024, 1024, 3, 0.05)};
  masks[3].at(1023, 1023) = 255;  // a run reaching the very last pixel
  std::string sample = "ImageId,EncodedPixels\n";
  for (size_t k = 0; k < masks.size(); ++k) {
    const std::string id = cat("1.2.3.", k);
    data::write_png_gray(probs + "/" + id + ".png", masks[k]);  // p = 0 or 1
    truth_rows.push_back({id, data::encode_rle(masks[k], data::RleFormat::kSiimRelative)});
    truth_std.push_back({id, data::encode_rle(masks[k], data::RleFormat::kAbsolute)});
    sample += id + ",-1\n";
  }
  write_file_atomic(dir.file("sample.csv"), sample);
  data::write_rle_csv(dir.file("truth.csv"), truth_rows);
  data::write_rle_csv(dir.file("truth_std.csv"), truth_std);
  ToolRun r = run({"--probs", probs, "--triplet", "0.5,1,0.5", "--sample-submission", dir.file("sample.csv"), "--out",
                   dir.file("sub.csv")});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(read_file(dir.file("sub.csv")) == read_file(dir.file("truth.csv")));
  ToolRun s = run({"--probs", probs, "--triplet", "0.5,1,0.5", "--sample-submission", dir.file("sample.csv"), "--out",
                   dir.file("sub_std.csv"), "--rle", "standard"});
  REQUIRE_MESSAGE(s.code == 0, s.err);
  CHECK(read_file(dir.file("sub_std.csv")) == read_file(dir.file("truth_std.csv")));
  const data::RleLabels sub = data::RleLabels::read(dir.file("sub.csv"), data::RleFormat::kSiimRelative);
  const data::RleLabels truth = data::RleLabels::read(dir.file("truth.csv"), data::RleFormat::kSiimRelative);
  const SubmissionScore score = score_submission(sub, truth, {});
  CHECK(score.kaggle_dice == 1.0);
  CHECK(score.positive_images == 3);
}

TEST_CASE("rle_submit: weighted ensembles") {
  TempDir dir;
  fs::create_directories(dir.file("a"));
  fs::create_directories(dir.file("b"));
  // a = 0.2 everywhere; b = 0.6 except 0 at (0,0). Rule: top = bottom = 0.45, area 1.
  write_npy_map(dir.file("a/x.npy"), 4, 4, std::vector<float>(16, 0.2f));
  std::vector<float> b(16, 0.6f);
  b[0] = 0.0f;
  write_npy_map(dir.file("b/x.npy"), 4, 4, b);
  std::ofstream(dir.file("sample.csv")) << "ImageId,EncodedPixels\nx,-1\n";
  auto submit = [&](const std::string& a, const std::string& bw) {
    ToolRun r = run({"--probs", a, "--probs", bw, "--triplet", "0.45,1,0.45", "--sample-submission",
                     dir.file("sample.csv"), "--out", dir.file("sub.csv"), "--height", "4", "--width", "4"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return read_file(dir.file("sub.csv"));
  };
  // Equal weights: 0.4 (0.1 at (0,0)), nothing > 0.45. Weights 1:3 -> 0.25*0.2 + 0.75*0.6 = 0.5 except
  // 0.05 at (0,0): every pixel but index 0, "1 15". Weights 3:1 -> 0.3: empty.
  CHECK(submit(dir.file("a"), dir.file("b")) == "ImageId,EncodedPixels\nx,-1\n");
  CHECK(submit(dir.file("a") + ":2", dir.file("b") + ":2") == "ImageId,EncodedPixels\nx,-1\n");
  CHECK(submit(dir.file("a") + ":1", dir.file("b") + ":3") == "ImageId,EncodedPixels\nx,1 15\n");
  CHECK(submit(dir.file("a") + ":0.25", dir.file("b") + ":0.75") == "ImageId,EncodedPixels\nx,1 15\n");
  CHECK(submit(dir.file("a") + ":3", dir.file("b") + ":1") == "ImageId,EncodedPixels\nx,-1\n");
}

TEST_CASE("rle_submit: --min-component removes small components at the map's size") {
  TempDir dir;
  std::vector<float> v(64, 0.0f);
  for (int y = 1; y <= 3; ++y)
    for (int x = 1; x <= 3; ++x) v[y * 8 + x] = 0.9f;  // a 3x3 square: column-major 9..11, 17..19, 25..27
  v[6 * 8 + 5] = v[6 * 8 + 6] = 0.7f;                  // a 2-pixel bar at (6,5), (6,6): indices 46, 54
  write_npy_map(dir.file("m.npy"), 8, 8, v);
  std::ofstream(dir.file("sample.csv")) << "ImageId,EncodedPixels\nm,-1\n";
  auto submit = [&](const std::string& n) {
    std::vector<std::string> args{"--probs", dir.path(), "--triplet", "0.8,1,0.5", "--sample-submission",
                                  dir.file("sample.csv"), "--out", dir.file("sub.csv"), "--height", "8", "--width", "8"};
    if (!n.empty()) args.insert(args.end(), {"--min-component", n});
    ToolRun r = run(args);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return std::make_pair(read_file(dir.file("sub.csv")), r.out);
  };
  CHECK(submit("").first == "ImageId,EncodedPixels\nm,9 3 5 3 5 3 18 1 7 1\n");
  CHECK(submit("2").first == "ImageId,EncodedPixels\nm,9 3 5 3 5 3 18 1 7 1\n");  // the bar has 2: kept
  const auto [csv, out] = submit("3");
  CHECK(csv == "ImageId,EncodedPixels\nm,9 3 5 3 5 3\n");
  CHECK(out.find("1 small components removed") != std::string::npos);
  CHECK(submit("10").first == "ImageId,EncodedPixels\nm,-1\n");
}

TEST_CASE("rle_submit: sample ids without maps, maps outside the sample") {
  HandCase c;
  std::ofstream(c.sample) << "ImageId,EncodedPixels\nm1,-1\nzz,-1\nm2,-1\nyy,-1\n";
  ToolRun r = run({"--probs", c.probs, "--triplet", "0.5,2,0.25", "--sample-submission", c.sample, "--out", c.out});
  CHECK(r.code == 1);
  CHECK(r.err.find("rle_submit: error: 2 ImageId(s) of the sample submission have no map in the probability folder: "
                   "zz, yy (--missing-empty writes them as -1)") != std::string::npos);
  CHECK_FALSE(fs::exists(c.out));
  ToolRun e = run({"--probs", c.probs, "--triplet", "0.5,2,0.25", "--sample-submission", c.sample, "--out", c.out,
                   "--missing-empty", "--height", "4", "--width", "4"});
  REQUIRE_MESSAGE(e.code == 0, e.err);
  CHECK(read_file(c.out) == "ImageId,EncodedPixels\nm1,0 3 1 2 9 1\nzz,-1\nm2,0 2 2 2 4 2 2 2\nyy,-1\n");
  CHECK(e.out.find("4 rows written") != std::string::npos);
  CHECK(e.out.find("2 without a map written -1") != std::string::npos);
  // m3 has a map but no row: left out, with a warning.
  CHECK(e.err.find("rle_submit: warning: 1 map(s) have no row in the sample submission and were left out") !=
        std::string::npos);
  CHECK(e.err.find("repeat an earlier ImageId") == std::string::npos);
  // Repeated ids (the stage 2 sample repeats some): written once, at their first row, and said.
  std::ofstream(c.sample) << "ImageId,EncodedPixels\nm1,-1\nm2,-1\nm1,1 2\nm2,-1\nm1,-1\n";
  ToolRun twice = run({"--probs", c.probs, "--triplet", "0.5,2,0.25", "--sample-submission", c.sample, "--out", c.out,
                       "--height", "4", "--width", "4"});
  REQUIRE_MESSAGE(twice.code == 0, twice.err);
  CHECK(read_file(c.out) == "ImageId,EncodedPixels\nm1,0 3 1 2 9 1\nm2,0 2 2 2 4 2 2 2\n");
  CHECK_MESSAGE(twice.err.find("rle_submit: note: 3 row(s) of the sample submission repeat an earlier ImageId (the "
                               "first at " + c.sample + ":4 ('m1')); each ImageId is written once, at its first row") !=
                    std::string::npos,
                twice.err);
}

TEST_CASE("rle_submit: usage errors exit 2") {
  HandCase c;
  ToolRun help = run({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("usage: rle_submit --probs DIR[:WEIGHT] ...") != std::string::npos);
  const std::vector<std::string> base{"--probs", c.probs, "--sample-submission", c.sample, "--out", c.out};
  auto usage_error = [&](std::vector<std::string> extra, const std::string& part, bool with_base = true) {
    std::vector<std::string> args = with_base ? base : std::vector<std::string>{};
    args.insert(args.end(), extra.begin(), extra.end());
    ToolRun r = run(args);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(part) != std::string::npos);
    CHECK(r.err.find("(run rle_submit --help for usage)") != std::string::npos);
  };
  usage_error({}, "missing required option --triplet TOP,AREA,BOTTOM");
  usage_error({"--triplet", "0.5,2"}, "option --triplet '0.5,2' has 2 items, expected TOP,AREA,BOTTOM");
  usage_error({"--triplet", "0.5,2,abc"}, "'abc' is not a number");
  usage_error({"--triplet", "0.5,-2,0.3"}, "'-2' is not an integer area");
  usage_error({"--triplet", "0.5,2,0.3", "--rle", "absolute"}, "--rle is 'absolute', expected siim or standard");
  usage_error({"--triplet", "0.5,2,0.3", "--min-component", "x"}, "--min-component expects an integer in 0..1099511627776, got 'x'");
  usage_error({"--triplet", "0.5,2,0.3", "--height", "0"}, "--height is 0, expected 1..16384");
  usage_error({"--triplet", "0.5,2,0.3", "--probs", c.probs + ":0"}, "option --probs: probability folder '" + c.probs + ":0'");
  usage_error({"--triplet", "0.5,2,0.3", "--probs", c.dir.file("none") + ":2"}, "--probs '" + c.dir.file("none") + "' is not a folder");
  usage_error({"--triplet", "0.5,2,0.3", "--probs", c.probs, "--sample-submission", c.dir.file("x.csv"), "--out", c.out},
              "--sample-submission '" + c.dir.file("x.csv") + "' is not a file", false);
  usage_error({"--triplet", "0.5,2,0.3", "--threshold", "1"}, "unknown option --threshold");
  usage_error({"--triplet", "0.5,2,0.3", "--missing-empty=1"}, "option --missing-empty takes no value");
  usage_error({"--triplet", "0.5,2,0.3", "--out", "other.csv"}, "option --out given twice");
  usage_error({"--triplet", "0.5,2,0.3", "--probs", c.probs, "--out", c.out}, "missing required option --sample-submission",
              false);
  // An output that cannot be written is found before any map is read, not at the last write.
  const std::string nowhere = c.dir.file("no/such/folder/sub.csv");
  usage_error({"--triplet", "0.5,2,0.3", "--probs", c.probs, "--sample-submission", c.sample, "--out", nowhere},
              "--out '" + nowhere + "': its folder " + c.dir.file("no/such/folder") + " does not exist", false);
  usage_error({"--triplet", "0.5,2,0.3", "--probs", c.probs, "--sample-submission", c.sample, "--out", c.probs},
              "--out '" + c.probs + "' is a folder, expected a file name", false);
}

TEST_CASE("rle_submit: failures exit 1 and leave an earlier output untouched") {
  HandCase c;
  write_file_atomic(c.out, "earlier\n");
  auto failure = [&](const std::vector<std::string>& probs, const std::vector<std::string>& parts) {
    std::vector<std::string> args{"--triplet", "0.5,2,0.25", "--sample-submission", c.sample, "--out", c.out};
    for (const std::string& p : probs) args.insert(args.end(), {"--probs", p});
    ToolRun r = run(args);
    CAPTURE(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("rle_submit: error: ") != std::string::npos);  // after any progress lines
    for (const std::string& p : parts) CHECK(r.err.find(p) != std::string::npos);
    CHECK(read_file(c.out) == "earlier\n");
  };
  // Ensembles whose folders differ in ids or sizes.
  const std::string other = c.dir.file("other");
  fs::create_directories(other);
  write_npy_map(other + "/m1.npy", 4, 4, std::vector<float>(16, 0.5f));
  write_npy_map(other + "/m2.npy", 2, 2, std::vector<float>(4, 0.5f));
  failure({c.probs, other}, {other + " lacks 1 of " + c.probs + " (m3)"});
  write_npy_map(other + "/m3.npy", 3, 2, std::vector<float>(6, 0.5f));
  failure({c.probs, other + ":2"}, {"ImageId 'm3': its map is 2x2 in " + c.probs + " but 3x2 in " + other});
  // A corrupt map.
  std::ofstream(c.probs + "/m2.npy") << "not an npy file";
  failure({c.probs}, {c.probs + "/m2.npy"});
  // A malformed sample submission.
  write_npy_map(c.probs + "/m2.npy", 2, 2, {0.9f, 0.1f, 0.1f, 0.9f});
  std::ofstream(c.sample) << "Name,EncodedPixels\nm1,-1\n";
  failure({c.probs}, {c.sample + ":1: expected a header starting with ImageId"});
}
