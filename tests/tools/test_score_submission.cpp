// Tests of tools/score_submission through the runner (tools/score_submission.cpp, tools/runner.h): a
// 4-image example worked by hand with its report and JSON line, SIIM's label sample scored against itself,
// several rows per ImageId, the standard RLE form, and every error path.
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/eval/eval_testing.h"
#include "tests/tools/tools_testing.h"
#include "eval/scoring.h"
#include "tools/tools.h"

using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

namespace {

ToolRun run(const std::vector<std::string>& args) { return run_tool(tools::score_submission_tool(), args); }

// The number `name` of a one-line JSON object.
double json_field(const std::string& json, const std::string& name) {
  return nlohmann::json::parse(json).at(name).get<double>();
}

const std::string kSiimSample = std::string(PLEURA_FIXTURES_DIR) + "/siim/train-rle-sample.csv";

}  // namespace

TEST_CASE("score_submission: a 4-image example worked by hand, report and JSON") {
  TempDir dir;
  // 4x4 masks (column-major indices). truth a = 0..3, b empty, c empty, d = 5..6 (two rows: 5 and 6).
  // submission a = 2..5 (2 of them in the truth), b empty, c = 8..9, d empty.
  std::ofstream(dir.file("t.csv")) << "ImageId,EncodedPixels\na,0 4\nb,-1\nc,-1\nd,5 1\nd,6 1\n";
  std::ofstream(dir.file("s.csv")) << "ImageId, EncodedPixels\nd, -1\nc,8 2\nb,-1\na,2 4\n";
  ToolRun r = run({dir.file("s.csv"), dir.file("t.csv"), "--height", "4", "--width", "4", "--json"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // dice: a (2*2 + e)/(4 + 4 + e) ~ 0.5, b 1, c e/(2 + e) ~ 0, d e/(2 + e) ~ 0. Kaggle ~ 1.5/4 = 0.375;
  // positives a and d ~ 0.25; empty decision right for a and b: 0.5; all-empty: b and c score 1, a and d
  // ~ 0: ~ 0.5.
  const double e = 1e-6, da = (2 * 2 + e) / (4 + 4 + e), dc = e / (2 + e), dd = e / (2 + e);
  nlohmann::ordered_json want;
  want["kaggle_dice"] = (da + 1.0 + dc + dd) / 4;
  want["dice_positive"] = (da + dd) / 2;
  want["empty_accuracy"] = 0.5;
  want["empty_submission_dice"] = (e / (4 + e) + 1.0 + 1.0 + e / (2 + e)) / 4;
  want["images"] = 4;
  want["positive_images"] = 2;
  const std::string json = want.dump();
  CHECK(r.out ==
        "images: 4 (2 with a non-empty truth, 2 predicted non-empty)\n"
        "kaggle_dice: 0.375000\ndice_positive: 0.250000\nempty_accuracy: 0.500000\nempty_submission_dice: 0.500000\n" +
            json + "\n");
  CHECK(last_line(r.out) == json);
  // The same masks in the standard (absolute, 1-based) form.
  std::ofstream(dir.file("t_std.csv")) << "ImageId,EncodedPixels\na,1 4\nb,-1\nc,-1\nd,6 2\n";
  std::ofstream(dir.file("s_std.csv")) << "ImageId,EncodedPixels\nd,-1\nc,9 2\nb,-1\na,3 4\n";
  ToolRun s = run({dir.file("s_std.csv"), dir.file("t_std.csv"), "--height", "4", "--width", "4", "--json", "--rle",
                   "standard"});
  REQUIRE_MESSAGE(s.code == 0, s.err);
  CHECK(last_line(s.out) == json);
}

TEST_CASE("score_submission: SIIM's label sample against itself scores 1") {
  ToolRun r = run({kSiimSample, kSiimSample, "--json"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const data::RleLabels truth = data::RleLabels::read(kSiimSample, data::RleFormat::kSiimRelative);
  int64_t positives = 0;
  for (const std::string& id : truth.ids()) positives += truth.positive(id);
  REQUIRE(positives > 0);
  REQUIRE(positives < static_cast<int64_t>(truth.ids().size()));
  const std::string json = last_line(r.out);
  CHECK(json.find("{\"kaggle_dice\":1.0,\"dice_positive\":1.0,\"empty_accuracy\":1.0,\"empty_submission_dice\":") == 0);
  CHECK(json.find(cat("\"images\":", truth.ids().size(), ",\"positive_images\":", positives, "}")) !=
        std::string::npos);
  // An all-empty submission scores what the truth said it would.
  TempDir dir;
  std::string empty = "ImageId,EncodedPixels\n";
  for (const std::string& id : truth.ids()) empty += id + ",-1\n";
  std::ofstream(dir.file("empty.csv")) << empty;
  ToolRun z = run({dir.file("empty.csv"), kSiimSample, "--json"});
  REQUIRE_MESSAGE(z.code == 0, z.err);
  // Its Kaggle score is the empty_submission_dice of the first run, and nothing is predicted.
  CHECK(json_field(last_line(z.out), "kaggle_dice") == json_field(json, "empty_submission_dice"));
  CHECK(json_field(last_line(z.out), "empty_submission_dice") == json_field(json, "empty_submission_dice"));
  CHECK(z.out.find(", 0 predicted non-empty)") != std::string::npos);
}

TEST_CASE("score_submission: usage errors exit 2") {
  TempDir dir;
  std::ofstream(dir.file("t.csv")) << "ImageId,EncodedPixels\na,-1\n";
  CHECK(run({"--help"}).code == 0);
  CHECK(run({"--help"}).out.find("usage: score_submission SUB.csv TRUTH.csv") != std::string::npos);
  auto usage_error = [&](const std::vector<std::string>& args, const std::string& part) {
    ToolRun r = run(args);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(part) != std::string::npos);
    CHECK(r.err.find("(run score_submission --help for usage)") != std::string::npos);
  };
  usage_error({}, "missing argument SUB.csv");
  usage_error({dir.file("t.csv")}, "missing argument TRUTH.csv");
  usage_error({dir.file("t.csv"), dir.file("t.csv"), "third"}, "unexpected argument 'third'");
  usage_error({dir.file("t.csv"), dir.file("none.csv")}, cat("'", dir.file("none.csv"), "' is not a file"));
  usage_error({dir.file("t.csv"), dir.file("t.csv"), "--height", "-4"}, "--height is -4, expected 1..16384");
  usage_error({dir.file("t.csv"), dir.file("t.csv"), "--width", "1e3"}, "--width expects an integer in 1..16384, got '1e3'");
  usage_error({dir.file("t.csv"), dir.file("t.csv"), "--rle", "relative"}, "--rle is 'relative', expected siim or standard");
  usage_error({dir.file("t.csv"), dir.file("t.csv"), "--json=yes"}, "option --json takes no value");
  usage_error({dir.file("t.csv"), dir.file("t.csv"), "--verbose"}, "unknown option --verbose");
}

TEST_CASE("score_submission: failures exit 1 naming ids, files and lines") {
  TempDir dir;
  std::ofstream(dir.file("t.csv")) << "ImageId,EncodedPixels\na,-1\nb,0 3\nc,-1\n";
  auto failure = [&](const std::string& sub_text, const std::vector<std::string>& parts,
                     const std::vector<std::string>& extra_args = {}) {
    std::ofstream(dir.file("s.csv")) << sub_text;
    std::vector<std::string> args{dir.file("s.csv"), dir.file("t.csv"), "--height", "4", "--width", "4"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    ToolRun r = run(args);
    CAPTURE(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("score_submission: error: ") == 0);
    for (const std::string& p : parts) CHECK(r.err.find(p) != std::string::npos);
  };
  failure("ImageId,EncodedPixels\nb,0 3\n", {"2 ImageId(s) of " + dir.file("t.csv") + " have no row in " + dir.file("s.csv") + ": a, c"});
  failure("ImageId,EncodedPixels\na,-1\nb,0 3\nc,-1\nx,-1\n",
          {"1 ImageId(s) of " + dir.file("s.csv") + " are not in " + dir.file("t.csv") + ": x", "--ignore-extra"});
  failure("ImageId,EncodedPixels\na,-1\nb,0 3\nc,2 x\n", {dir.file("s.csv") + ":4", "'x'"});
  failure("ImageId,EncodedPixels\na,-1\nb,0 3 4\nc,-1\n", {dir.file("s.csv") + ":3", "odd count"});
  failure("ImageId,EncodedPixels\na,-1\nb,0 3\nc,-5 2\n", {dir.file("s.csv") + ":4", "negative number '-5'"});
  failure("ImageId,EncodedPixels\na,-1\nb,0 3\nc,10 7\n", {dir.file("s.csv") + ":4 (c)", "only 16 pixels"});
  failure("ImageId,EncodedPixels\na,-1\nb,0 3\nc,1 1\n", {dir.file("s.csv") + ":3", "starts at 0"}, {"--rle", "standard"});
  failure("Id,Pixels\na,-1\n", {dir.file("s.csv") + ":1", "expected the header"});
  // Extra ids can be skipped on request, with a warning.
  std::ofstream(dir.file("s.csv")) << "ImageId,EncodedPixels\na,-1\nb,0 3\nc,-1\nx,-1\n";
  ToolRun r = run({dir.file("s.csv"), dir.file("t.csv"), "--height", "4", "--width", "4", "--ignore-extra"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.find("warning: 1 ImageId(s) of " + dir.file("s.csv") + " are not in the truth and were skipped") !=
        std::string::npos);
  CHECK(r.out.find("kaggle_dice: 1.000000") != std::string::npos);
}
