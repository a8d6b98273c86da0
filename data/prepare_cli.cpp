// The command line of tools/prepare_data (see prepare.h): argument checks, then prepare_dataset.
#include <filesystem>
#include <iostream>
#include <sstream>

#include "data/cli_args.h"
#include "data/jobs.h"
#include "data/prepare.h"
#include "data/progress.h"

namespace pleura::data {

int prepare_data_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ArgParser parser("prepare_data",
                   "Turns a SIIM-style tree of DICOM (or PNG/JPEG) images into 8-bit PNGs of one size, with\n"
                   "0/255 mask PNGs from an RLE label CSV, a manifest.csv and optionally a folds file.\n"
                   "Resumable: rerun the same command after an interruption; finished images are skipped.");
  parser.add_value("images", "DIR", "folder searched recursively for .dcm/.png/.jpg files", true);
  parser.add_value("labels", "CSV", "RLE labels (ImageId,EncodedPixels); writes OUT/masks/");
  parser.add_value("label-format", "FORM", "RLE form of --labels: relative (SIIM, default) or absolute");
  parser.add_value("out", "DIR", "output folder (images/, masks/, manifest.csv)", true);
  parser.add_value("size", "N", "output side in pixels, 1..16384 (bilinear resize as cv2 INTER_LINEAR)", true);
  parser.add_value("threads", "T", "worker threads (default: all hardware threads)");
  parser.add_flag("skip-missing", "skip images without labels and ignore labels without images");
  parser.add_value("folds", "K", "also write OUT/folds_K.csv, a stratified K-fold split (needs --labels)");
  parser.add_value("seed", "S", "seed of the folds split (default 0)");
  PrepareOptions options;
  try {
    parser.parse(args);
    if (parser.help_requested()) {
      out << parser.usage();
      return 0;
    }
    options.images_dir = parser.value("images");
    options.labels_path = parser.value("labels");
    options.out_dir = parser.value("out");
    options.size = parser.int_value("size", 1, 16384, 0);
    options.threads = static_cast<int>(parser.int_value("threads", 1, 1024, default_job_threads()));
    options.skip_missing = parser.has("skip-missing");
    options.folds = static_cast<int>(parser.int_value("folds", 2, 100, 0));
    options.seed = static_cast<uint64_t>(parser.int_value("seed", 0, INT64_MAX, 0));
    if (parser.has("label-format")) {
      const std::string form = parser.value("label-format");
      if (form != "relative" && form != "absolute") {
        throw UsageError("option --label-format is '" + form + "', expected relative or absolute");
      }
      options.label_format = parse_rle_format(form);
      if (!parser.has("labels")) throw UsageError("option --label-format needs --labels");
    }
    if (parser.has("folds") && !parser.has("labels")) throw UsageError("option --folds needs --labels");
    if (parser.has("seed") && !parser.has("folds")) throw UsageError("option --seed needs --folds");
    if (!std::filesystem::is_directory(options.images_dir)) {
      throw UsageError("--images '" + options.images_dir + "' is not a folder");
    }
    if (parser.has("labels") && !std::filesystem::is_regular_file(options.labels_path)) {
      throw UsageError("--labels '" + options.labels_path + "' is not a file");
    }
  } catch (const UsageError& e) {
    err << "prepare_data: " << e.what() << "\n(run prepare_data --help for usage)\n";
    return 2;
  }
  try {
    options.terminal = &err == &std::cerr && stderr_is_terminal();
    const PrepareSummary s = prepare_dataset(options, err);
    std::ostringstream line;
    line << "prepare_data: " << s.images << " images in " << options.out_dir << " (" << s.written << " written, "
         << s.resumed << " already there";
    if (!options.labels_path.empty()) line << ", " << s.positives << " with a mask";
    if (s.unlabelled_skipped) line << ", " << s.unlabelled_skipped << " without labels skipped";
    if (s.labels_without_image) line << ", " << s.labels_without_image << " label rows without an image ignored";
    line.setf(std::ios::fixed);
    line.precision(1);
    line << ") in " << s.seconds << " s, " << (s.seconds > 0 ? static_cast<double>(s.written) / s.seconds : 0.0)
         << " images/s written\n";
    out << line.str();
    return 0;
  } catch (const std::exception& e) {
    err << "prepare_data: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pleura::data
