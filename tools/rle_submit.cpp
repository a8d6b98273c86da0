// rle_submit: probability maps (one folder or a weighted ensemble) -> submission CSV (eval/submission.h),
// and with --overlays the predictions to review (eval/review.h). Tests: tests/tools/test_rle_submit.cpp,
// tests/tools/test_review_tools.cpp, tests/infer/test_configs.cpp (the shipped submit INIs).
#include <filesystem>
#include <optional>
#include <sstream>

#include "data/jobs.h"
#include "eval/ensemble.h"
#include "eval/review.h"
#include "eval/submission.h"
#include "eval/triplet_args.h"
#include "tools/tools.h"

namespace pleura::tools {

namespace {

const char* const kSummary =
    "Turns probability maps into a submission CSV (ImageId,EncodedPixels). Maps: <ImageId>.png (8-bit,\n"
    "p = v/255) or <ImageId>.npy (float32 HxW). Several --probs folders are averaged with their weights\n"
    "(normalised to sum 1); they must hold the same ImageIds and sizes. Per image, the triplet rule: empty\n"
    "(-1) when count(p > TOP) < AREA, else the mask p > BOTTOM (thresholds compared as float32); then,\n"
    "with --min-component, 8-connected components of fewer than N pixels (at the map's size) are removed;\n"
    "then a map that is not HxW (1024x1024) is resized as the reference did: the 0/255 mask through\n"
    "bilinear interpolation (cv2 INTER_LINEAR), then > 127. Rows follow the sample submission's order.\n"
    "\n"
    "--overlays DIR --images DIR [--labels CSV]: also predictions to review (as infer_unet --overlays): per map\n"
    "DIR/<ImageId>.png, the image at HxW with the submitted mask's outline (red), the truth's (green), the\n"
    "ImageId, the maximum probability and the dice, and DIR/index.html, thumbnails worst first.";

struct Args {
  std::vector<std::string> probs;
  std::string triplet, sample, out;
  std::string rle = "siim";
  eval::SubmitOptions options;
  bool missing_empty = false;
  std::string overlays, images, labels;
};

void declare(CLI::App& app, Args& a) {
  app.add_option("--probs", a.probs, "folder of probability maps, with an optional weight (default 1)")
      ->type_name("DIR[:WEIGHT]")
      ->required();
  app.add_option("--triplet", a.triplet, "thresholds, e.g. 0.75,1000,0.3")->type_name("TOP,AREA,BOTTOM")->required();
  app.add_option("--sample-submission", a.sample, "ImageIds to write, in order (header ImageId,...)")
      ->type_name("CSV")
      ->required();
  app.add_option("--out", a.out, "submission file to write (atomically)")->type_name("CSV")->required();
  app.add_option("--rle", a.rle, "siim (relative, SIIM stage 1; default) or standard (absolute, 1-based)")
      ->type_name("FORM")
      ->check(one_of({"siim", "standard"}));
  app.add_option("--min-component", a.options.min_component,
                 "remove 8-connected components with fewer than N pixels (default 0: off)")
      ->type_name("N")
      ->check(int_in(0, int64_t{1} << 40));
  app.add_option("--height", a.options.out_height, "height of the submitted masks (default 1024)")
      ->type_name("H")
      ->check(int_in(1, 16384));
  app.add_option("--width", a.options.out_width, "width of the submitted masks (default 1024)")
      ->type_name("W")
      ->check(int_in(1, 16384));
  app.add_flag("--missing-empty", a.missing_empty,
               "write -1 for sample ids without a map (default: an error listing them)");
  app.add_option("--overlays", a.overlays, "also write predictions to review: DIR/<ImageId>.png and DIR/index.html")
      ->type_name("DIR");
  app.add_option("--images", a.images, "with --overlays: the X-rays (DICOM tree, PNG/JPEG folder or prepared cache)")
      ->type_name("DIR");
  app.add_option("--labels", a.labels, "with --overlays: the truth, an RLE label file at HxW in the --rle form")
      ->type_name("CSV");
}

// The overlay options given together, and their files there.
void check_overlay_options(const Args& a, const ToolContext& context) {
  if (!context.given("--overlays")) {
    for (const char* name : {"--images", "--labels"})
      if (context.given(name)) throw UsageError(cat("option ", name, " goes with --overlays DIR"));
    return;
  }
  if (!context.given("--images")) throw UsageError("option --overlays needs --images DIR (the X-rays to draw on)");
  if (!std::filesystem::is_directory(a.images)) throw UsageError(cat("--images '", a.images, "' is not a folder"));
  for (const std::string& probs : a.probs) {
    const std::string dir = eval::parse_weighted_folder(probs).dir;
    if (same_path(dir, a.overlays))
      throw UsageError(cat("--overlays '", a.overlays, "' is a --probs folder; its PNGs would read as maps"));
  }
  if (context.given("--labels") && !std::filesystem::is_regular_file(a.labels))
    throw UsageError(cat("--labels '", a.labels, "' is not a file"));
}

void write_overlays(const Args& a, const eval::ProbEnsemble& maps, const eval::SubmitOptions& options,
                    const ToolContext& context) {
  std::optional<eval::TruthMasks> truth;
  if (!a.labels.empty())
    truth = eval::TruthMasks::from_labels(a.labels, options.format, options.out_height, options.out_width);
  const eval::ReviewSummary s =
      eval::review_maps(maps, options,
                        {a.images, truth ? &*truth : nullptr, a.overlays, cat("rle_submit: the masks of ", a.out),
                         data::default_job_threads()});
  context.out << "rle_submit: " << eval::review_summary_text(s) << "\n";
}

std::vector<eval::WeightedFolder> folders_of(const Args& a) {
  std::vector<eval::WeightedFolder> folders;
  for (const std::string& text : a.probs) {
    try {
      folders.push_back(eval::parse_weighted_folder(text));
    } catch (const Error& e) {
      throw UsageError(cat("option --probs: ", e.what()));
    }
    if (!std::filesystem::is_directory(folders.back().dir)) {
      throw UsageError(cat("--probs '", folders.back().dir, "' is not a folder"));
    }
  }
  return folders;
}

std::string summary_line(const Args& a, const eval::SubmissionSummary& s) {
  std::ostringstream line;
  line << "rle_submit: " << s.rows << " rows written to " << a.out << " (" << s.non_empty << " with a mask";
  if (s.missing_as_empty) line << ", " << s.missing_as_empty << " without a map written -1";
  if (a.options.min_component > 0) line << ", " << s.components_removed << " small components removed";
  line.setf(std::ios::fixed);
  line.precision(1);
  line << ") in " << s.seconds << " s\n";
  return line.str();
}

void run(const Args& a, const ToolContext& context) {
  const std::vector<eval::WeightedFolder> folders = folders_of(a);
  eval::SubmitOptions options = a.options;
  options.triplet = as_usage([&] { return eval::parse_triplet("triplet", a.triplet); });
  options.format = data::parse_rle_format(a.rle);
  if (!std::filesystem::is_regular_file(a.sample)) {
    throw UsageError(cat("--sample-submission '", a.sample, "' is not a file"));
  }
  check_overlay_options(a, context);
  check_output_file("--out", a.out);
  const eval::ProbEnsemble maps(folders);
  const eval::SampleIds sample = eval::read_sample_ids(a.sample);
  if (sample.repeated_rows > 0) {
    context.err << "rle_submit: note: " << sample.repeated_rows << " row(s) of the sample submission repeat an "
                << "earlier ImageId (the first at " << sample.first_repeat
                << "); each ImageId is written once, at its first row\n";
  }
  const eval::SubmissionSummary s =
      eval::write_submission(maps, sample.ids, options, a.missing_empty, a.out, context.err, context.terminal);
  if (s.maps_not_in_sample > 0) {
    context.err << "rle_submit: warning: " << s.maps_not_in_sample
                << " map(s) have no row in the sample submission and were left out\n";
  }
  context.out << summary_line(a, s);
  if (context.given("--overlays")) write_overlays(a, maps, options, context);
}

}  // namespace

Tool rle_submit_tool() { return make_tool("rle_submit", kSummary, OnStop::kExitAtOnce, declare, run); }

}  // namespace pleura::tools
