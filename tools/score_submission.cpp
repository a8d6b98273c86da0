// score_submission: the Kaggle metric of a submission CSV against a truth CSV, with extra scores
// (eval/scoring.h); --json adds one JSON line; --overlays the predictions to review (eval/review.h).
// Tests: tests/tools/test_score_submission.cpp, tests/tools/test_review_tools.cpp.
#include <filesystem>

#include "data/jobs.h"
#include "eval/review.h"
#include "eval/scoring.h"
#include "tools/tools.h"

namespace pleura::tools {

namespace {

const char* const kSummary =
    "Scores a submission (ImageId,EncodedPixels) against the truth in the same form: the Kaggle metric\n"
    "(per-image dice with empty/empty = 1, mean over the truth's images), the dice over images whose\n"
    "truth is not empty, the accuracy of the empty/non-empty decision and the score an all-empty\n"
    "submission would get. Several rows per ImageId are OR-ed. Every ImageId of the truth must be in the\n"
    "submission, and (unless --ignore-extra) every ImageId of the submission in the truth.\n"
    "\n"
    "--overlays DIR --images DIR: also predictions to review: per ImageId of the truth DIR/<ImageId>.png, the\n"
    "image at HxW with the submitted mask's outline (red) and the truth's (green), the ImageId and the dice,\n"
    "and DIR/index.html, thumbnails worst first (a submission holds no probabilities). Its line goes to stderr.";

struct Args {
  std::string submission, truth;
  std::string rle = "siim";
  eval::ScoreOptions options;
  bool json = false;
  std::string overlays, images;
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
  app.add_option("--overlays", a.overlays, "also write predictions to review: DIR/<ImageId>.png and DIR/index.html")
      ->type_name("DIR");
  app.add_option("--images", a.images, "with --overlays: the X-rays (DICOM tree, PNG/JPEG folder or prepared cache)")
      ->type_name("DIR");
}

void check_overlay_options(const Args& a, const ToolContext& context) {
  if (context.given("--images") && !context.given("--overlays"))
    throw UsageError("option --images goes with --overlays DIR");
  if (!context.given("--overlays")) return;
  if (!context.given("--images")) throw UsageError("option --overlays needs --images DIR (the X-rays to draw on)");
  if (!std::filesystem::is_directory(a.images)) throw UsageError(cat("--images '", a.images, "' is not a folder"));
}

void run(const Args& a, const ToolContext& context) {
  for (const std::string& path : {a.submission, a.truth}) {
    if (!std::filesystem::is_regular_file(path)) throw UsageError(cat("'", path, "' is not a file"));
  }
  check_overlay_options(a, context);
  const data::RleFormat format = data::parse_rle_format(a.rle);
  const data::RleLabels submission = data::RleLabels::read(a.submission, format);
  const data::RleLabels truth = data::RleLabels::read(a.truth, format);
  std::vector<std::string> extra;
  const eval::SubmissionScore s = eval::score_submission(submission, truth, a.options, &extra);
  if (!extra.empty()) {
    context.err << "score_submission: warning: " << extra.size() << " ImageId(s) of " << a.submission
                << " are not in the truth and were skipped\n";
  }
  if (context.given("--overlays")) {
    const eval::ReviewSummary r = eval::review_submission(
        submission, truth, a.options.height, a.options.width,
        {a.images, nullptr, a.overlays, cat("score_submission: ", a.submission, " against ", a.truth),
         data::default_job_threads()});
    context.err << "score_submission: " << eval::review_summary_text(r) << "\n";
  }
  context.out << eval::score_text(s);
  if (a.json) context.out << eval::score_json(s) << "\n";
}

}  // namespace

Tool score_submission_tool() { return make_tool("score_submission", kSummary, OnStop::kExitAtOnce, declare, run); }

}  // namespace pleura::tools
