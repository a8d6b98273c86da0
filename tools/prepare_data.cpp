// prepare_data: a SIIM-style DICOM/PNG tree -> PNGs, masks and a manifest (data/prepare.h). Stops between
// images on SIGINT / SIGTERM; the same command continues. Tests: tests/tools/test_prepare_data.cpp.
#include <filesystem>
#include <sstream>

#include "data/jobs.h"
#include "data/prepare.h"
#include "tools/tools.h"

namespace pleura::tools {

namespace {

const char* const kSummary =
    "Turns a SIIM-style tree of DICOM (or PNG/JPEG) images into 8-bit PNGs of one size, with\n"
    "0/255 mask PNGs from an RLE label CSV, a manifest.csv and optionally a folds file.\n"
    "Resumable: rerun the same command after an interruption; finished images are skipped.";

struct Args {
  data::PrepareOptions options;
  std::string label_format = "relative";
};

void declare(CLI::App& app, Args& a) {
  a.options.threads = data::default_job_threads();
  app.add_option("--images", a.options.images_dir, "folder searched recursively for .dcm/.png/.jpg files")
      ->type_name("DIR")
      ->required();
  app.add_option("--labels", a.options.labels_path, "RLE labels (ImageId,EncodedPixels); writes OUT/masks/")
      ->type_name("CSV");
  app.add_option("--label-format", a.label_format, "RLE form of --labels: relative (SIIM, default) or absolute")
      ->type_name("FORM")
      ->check(one_of({"relative", "absolute"}));
  app.add_option("--out", a.options.out_dir, "output folder (images/, masks/, manifest.csv)")
      ->type_name("DIR")
      ->required();
  app.add_option("--size", a.options.size, "output side in pixels, 1..16384 (bilinear resize as cv2 INTER_LINEAR)")
      ->type_name("N")
      ->required()
      ->check(int_in(1, 16384));
  app.add_option("--threads", a.options.threads, "worker threads (default: all hardware threads)")
      ->type_name("T")
      ->check(int_in(1, 1024));
  app.add_flag("--skip-missing", a.options.skip_missing, "skip images without labels and ignore labels without images");
  app.add_option("--folds", a.options.folds, "also write OUT/folds_K.csv, a stratified K-fold split (needs --labels)")
      ->type_name("K")
      ->check(int_in(2, 100));
  app.add_option("--seed", a.options.seed, "seed of the folds split (default 0)")
      ->type_name("S")
      ->check(int_in(0, INT64_MAX));
}

// The options that only make sense together, and the paths that must exist.
void check(const Args& a, const ToolContext& context) {
  const bool labels = context.given("--labels");
  if (context.given("--label-format") && !labels) throw UsageError("option --label-format needs --labels");
  if (context.given("--folds") && !labels) throw UsageError("option --folds needs --labels");
  if (context.given("--seed") && !context.given("--folds")) throw UsageError("option --seed needs --folds");
  if (!std::filesystem::is_directory(a.options.images_dir)) {
    throw UsageError("--images '" + a.options.images_dir + "' is not a folder");
  }
  if (labels && !std::filesystem::is_regular_file(a.options.labels_path)) {
    throw UsageError("--labels '" + a.options.labels_path + "' is not a file");
  }
}

void run(const Args& a, const ToolContext& context) {
  check(a, context);
  data::PrepareOptions options = a.options;
  options.label_format = data::parse_rle_format(a.label_format);
  options.terminal = context.terminal;
  const data::PrepareSummary s = data::prepare_dataset(options, context.err);
  std::ostringstream line;
  line << "prepare_data: " << s.images << " images in " << options.out_dir << " (" << s.written << " written, "
       << s.resumed << " already there";
  if (s.redone) line << ", " << s.redone << " made again: their source changed";
  if (!options.labels_path.empty()) line << ", " << s.positives << " with a mask";
  if (s.unlabelled_skipped) line << ", " << s.unlabelled_skipped << " without labels skipped";
  if (s.labels_without_image) line << ", " << s.labels_without_image << " label rows without an image ignored";
  line.setf(std::ios::fixed);
  line.precision(1);
  line << ") in " << s.seconds << " s, " << (s.seconds > 0 ? static_cast<double>(s.written) / s.seconds : 0.0)
       << " images/s written\n";
  context.out << line.str();
}

}  // namespace

Tool prepare_data_tool() { return make_tool("prepare_data", kSummary, OnStop::kPolled, declare, run); }

}  // namespace pleura::tools
