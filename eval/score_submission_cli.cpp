// The command line of tools/score_submission (see scoring.h): argument checks, reading both files, the
// scores.
#include <filesystem>
#include <iostream>

#include "data/cli_args.h"
#include "eval/scoring.h"

namespace pleura::eval {

int score_submission_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  using data::UsageError;
  data::ArgParser parser(
      "score_submission",
      "Scores a submission (ImageId,EncodedPixels) against the truth in the same form: the Kaggle metric\n"
      "(per-image dice with empty/empty = 1, mean over the truth's images), the dice over images whose\n"
      "truth is not empty, the accuracy of the empty/non-empty decision and the score an all-empty\n"
      "submission would get. Several rows per ImageId are OR-ed. Every ImageId of the truth must be in the\n"
      "submission, and (unless --ignore-extra) every ImageId of the submission in the truth.");
  parser.add_positional("SUB.csv", "the submission");
  parser.add_positional("TRUTH.csv", "the truth (e.g. SIIM's train-rle.csv or a fold's labels)");
  parser.add_value("height", "H", "mask height of both files (default 1024)");
  parser.add_value("width", "W", "mask width of both files (default 1024)");
  parser.add_value("rle", "FORM", "RLE form of both files: siim (relative, default) or standard (absolute)");
  parser.add_flag("ignore-extra", "skip submission rows whose ImageId is not in the truth (default: an error)");
  parser.add_flag("json", "also print the scores as one JSON line, the last line of the output");
  ScoreOptions options;
  data::RleFormat format = data::RleFormat::kSiimRelative;
  std::string sub_path, truth_path;
  try {
    parser.parse(args);
    if (parser.help_requested()) {
      out << parser.usage();
      return 0;
    }
    sub_path = parser.positional(0);
    truth_path = parser.positional(1);
    options.height = parser.int_value("height", 1, 16384, 1024);
    options.width = parser.int_value("width", 1, 16384, 1024);
    options.ignore_extra = parser.has("ignore-extra");
    if (parser.has("rle")) {
      const std::string form = parser.value("rle");
      if (form != "siim" && form != "standard") {
        throw UsageError(cat("option --rle is '", form, "', expected siim or standard"));
      }
      format = data::parse_rle_format(form);
    }
    for (const std::string& path : {sub_path, truth_path}) {
      if (!std::filesystem::is_regular_file(path)) throw UsageError(cat("'", path, "' is not a file"));
    }
  } catch (const UsageError& e) {
    err << "score_submission: " << e.what() << "\n(run score_submission --help for usage)\n";
    return 2;
  }
  try {
    const data::RleLabels submission = data::RleLabels::read(sub_path, format);
    const data::RleLabels truth = data::RleLabels::read(truth_path, format);
    std::vector<std::string> extra;
    const SubmissionScore s = score_submission(submission, truth, options, &extra);
    if (!extra.empty()) {
      err << "score_submission: warning: " << extra.size() << " ImageId(s) of " << sub_path
          << " are not in the truth and were skipped\n";
    }
    out << score_text(s);
    if (parser.has("json")) out << score_json(s) << "\n";
    return 0;
  } catch (const std::exception& e) {
    err << "score_submission: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pleura::eval
