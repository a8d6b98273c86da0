// score_submission: the Kaggle metric of a submission CSV against a truth CSV, with extra scores
// (eval/scoring.h); --json adds one JSON line. Tests: tests/tools/test_score_submission.cpp.
#include <filesystem>

#include "eval/scoring.h"
#include "tools/tools.h"

namespace pleura::tools {

namespace {

const char* const kSummary =
    "Scores a submission (ImageId,EncodedPixels) against the truth in the same form: the Kaggle metric\n"
    "(per-image dice with empty/empty = 1, mean over the truth's images), the dice over images whose\n"
    "truth is not empty, the accuracy of the empty/non-empty decision and the score an all-empty\n"
    "submission would get. Several rows per ImageId are OR-ed. Every ImageId of the truth must be in the\n"
    "submission, and (unless --ignore-extra) every ImageId of the submission in the truth.";

struct Args {
  std::string submission, truth;
  std::string rle = "siim";
  eval::ScoreOptions options;
  bool json = false;
};

void declare(CLI::App& app, Args& a) {
  app.add_option("SUB.csv", a.submission, "the submission")->required();
  app.add_option("TRUTH.csv", a.truth, "the truth (e.g. SIIM's train-rle.csv or a fold's labels)")->required();
  app.add_option("--height", a.options.height, "mask height of both files (default 1024)")
      ->type_name("H")
      ->check(int_in(1, 16384));
  app.add_option("--width", a.options.width, "mask width of both files (default 1024)")
      ->type_name("W")
      ->check(int_in(1, 16384));
  app.add_option("--rle", a.rle, "RLE form of both files: siim (relative, default) or standard (absolute)")
      ->type_name("FORM")
      ->check(one_of({"siim", "standard"}));
  app.add_flag("--ignore-extra", a.options.ignore_extra,
               "skip submission rows whose ImageId is not in the truth (default: an error)");
  app.add_flag("--json", a.json, "also print the scores as one JSON line, the last line of the output");
}

void run(const Args& a, const ToolContext& context) {
  for (const std::string& path : {a.submission, a.truth}) {
    if (!std::filesystem::is_regular_file(path)) throw UsageError(cat("'", path, "' is not a file"));
  }
  const data::RleFormat format = data::parse_rle_format(a.rle);
  const data::RleLabels submission = data::RleLabels::read(a.submission, format);
  const data::RleLabels truth = data::RleLabels::read(a.truth, format);
  std::vector<std::string> extra;
  const eval::SubmissionScore s = eval::score_submission(submission, truth, a.options, &extra);
  if (!extra.empty()) {
    context.err << "score_submission: warning: " << extra.size() << " ImageId(s) of " << a.submission
                << " are not in the truth and were skipped\n";
  }
  context.out << eval::score_text(s);
  if (a.json) context.out << eval::score_json(s) << "\n";
}

}  // namespace

Tool score_submission_tool() { return make_tool("score_submission", kSummary, OnStop::kExitAtOnce, declare, run); }

}  // namespace pleura::tools
