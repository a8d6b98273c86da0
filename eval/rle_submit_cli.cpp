// The command line of tools/rle_submit (see submission.h): argument checks, then write_submission.
#include <filesystem>
#include <iostream>
#include <sstream>

#include "data/cli_args.h"
#include "data/progress.h"
#include "eval/submission.h"
#include "eval/triplet_args.h"

namespace pleura::eval {

int rle_submit_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  using data::UsageError;
  data::ArgParser parser(
      "rle_submit",
      "Turns probability maps into a submission CSV (ImageId,EncodedPixels). Maps: <ImageId>.png (8-bit,\n"
      "p = v/255) or <ImageId>.npy (float32 HxW). Several --probs folders are averaged with their weights\n"
      "(normalised to sum 1); they must hold the same ImageIds and sizes. Per image, the triplet rule: empty\n"
      "(-1) when count(p > TOP) < AREA, else the mask p > BOTTOM (thresholds compared as float32); then,\n"
      "with --min-component, 8-connected components of fewer than N pixels (at the map's size) are removed;\n"
      "then a map that is not HxW (1024x1024) is resized as the reference did: the 0/255 mask through\n"
      "bilinear interpolation (cv2 INTER_LINEAR), then > 127. Rows follow the sample submission's order.");
  parser.add_repeated("probs", "DIR[:WEIGHT]", "folder of probability maps, with an optional weight (default 1)", true);
  parser.add_value("triplet", "TOP,AREA,BOTTOM", "thresholds, e.g. 0.75,1000,0.3", true);
  parser.add_value("sample-submission", "CSV", "ImageIds to write, in order (header ImageId,...)", true);
  parser.add_value("out", "CSV", "submission file to write (atomically)", true);
  parser.add_value("rle", "FORM", "siim (relative, SIIM stage 1; default) or standard (absolute, 1-based)");
  parser.add_value("min-component", "N", "remove 8-connected components with fewer than N pixels (default 0: off)");
  parser.add_value("height", "H", "height of the submitted masks (default 1024)");
  parser.add_value("width", "W", "width of the submitted masks (default 1024)");
  parser.add_flag("missing-empty", "write -1 for sample ids without a map (default: an error listing them)");
  SubmitOptions options;
  std::vector<WeightedFolder> folders;
  std::string sample_path, out_path;
  try {
    parser.parse(args);
    if (parser.help_requested()) {
      out << parser.usage();
      return 0;
    }
    for (const std::string& text : parser.values("probs")) {
      try {
        folders.push_back(parse_weighted_folder(text));
      } catch (const Error& e) {
        throw UsageError(cat("option --probs: ", e.what()));
      }
      if (!std::filesystem::is_directory(folders.back().dir)) {
        throw UsageError(cat("--probs '", folders.back().dir, "' is not a folder"));
      }
    }
    options.triplet = parse_triplet("triplet", parser.value("triplet"));
    if (parser.has("rle")) {
      const std::string form = parser.value("rle");
      if (form != "siim" && form != "standard") {
        throw UsageError(cat("option --rle is '", form, "', expected siim or standard"));
      }
      options.format = data::parse_rle_format(form);
    }
    options.min_component = parser.int_value("min-component", 0, int64_t{1} << 40, 0);
    options.out_height = parser.int_value("height", 1, 16384, 1024);
    options.out_width = parser.int_value("width", 1, 16384, 1024);
    sample_path = parser.value("sample-submission");
    out_path = parser.value("out");
    if (!std::filesystem::is_regular_file(sample_path)) {
      throw UsageError(cat("--sample-submission '", sample_path, "' is not a file"));
    }
  } catch (const UsageError& e) {
    err << "rle_submit: " << e.what() << "\n(run rle_submit --help for usage)\n";
    return 2;
  }
  try {
    const ProbEnsemble maps(folders);
    const std::vector<std::string> ids = read_sample_ids(sample_path);
    const bool terminal = &err == &std::cerr && data::stderr_is_terminal();
    const SubmissionSummary s =
        write_submission(maps, ids, options, parser.has("missing-empty"), out_path, err, terminal);
    if (s.maps_not_in_sample > 0) {
      err << "rle_submit: warning: " << s.maps_not_in_sample
          << " map(s) have no row in the sample submission and were left out\n";
    }
    std::ostringstream line;
    line << "rle_submit: " << s.rows << " rows written to " << out_path << " (" << s.non_empty << " with a mask";
    if (s.missing_as_empty) line << ", " << s.missing_as_empty << " without a map written -1";
    if (options.min_component > 0) line << ", " << s.components_removed << " small components removed";
    line.setf(std::ios::fixed);
    line.precision(1);
    line << ") in " << s.seconds << " s\n";
    out << line.str();
    return 0;
  } catch (const std::exception& e) {
    err << "rle_submit: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pleura::eval
