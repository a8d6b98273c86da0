// infer_unet's flag mode, exposed for its tests: the flags' values, their declaration, and the InferOptions
// they give (the INI mode is infer/infer_options.h); the overlay flags (--overlays). The tool itself is
// infer_unet_tool() (tools/tools.h).
// Tests: tests/tools/test_infer_unet_flags.cpp, tests/tools/test_infer_unet.cpp, tests/tools/test_review_tools.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/rle.h"
#include "engine/ops/triplet_mask.h"
#include "infer/infer_options.h"
#include "tools/runner.h"

namespace pleura::tools {

struct InferFlags {
  std::string model, input, output;
  std::vector<std::string> weights;  // each FILE[,FILE...]
  std::string pipeline, pipeline_name, folds;
  std::string best_folder = "checkpoints", full_folder = "checkpoints";
  std::vector<std::string> epochs;  // each FOLD:E[,E...]
  bool best = false, flip = false, resume = false, exact_convolutions = false, cuda_graphs = false;
  int64_t top_k = 0, size = 0, batch = 2;
  int workers = 1;
  std::string norm = "unit", format = "npy", device = "cpu", precision = "fp32", cudnn_algorithms = "measured";
};

// Declares the flags (and nothing else) on `app`, bound to `flags`.
void declare_infer_flags(CLI::App& app, InferFlags& flags);

// The options of parsed flags. Every mistake (a missing or conflicting option, a malformed list, an
// unknown model, a size that is not a multiple of the model's, an input folder or --weights file that does
// not exist) is a UsageError naming the option.
infer::InferOptions infer_options_from_flags(const InferFlags& flags, const CLI::App& app);

// --overlays DIR and its companions (predictions to review, eval/review.h): accepted in both modes.
struct OverlayFlags {
  std::string dir, triplet, labels, rle = "siim";
  int64_t label_size = 1024, overlay_size = 512, min_component = 0;
};
void declare_overlay_flags(CLI::App& app, OverlayFlags& flags);

struct OverlaySettings {
  std::string dir;
  Triplet triplet;
  std::string labels;  // empty: no truth
  data::RleFormat rle = data::RleFormat::kSiimRelative;
  int64_t label_size = 1024, overlay_size = 512;
  int64_t min_component = 0;  // as rle_submit --min-component: smaller components are not drawn
};

// The overlay settings of parsed flags; none without --overlays. UsageErrors: --overlays without
// --triplet, a companion option without --overlays, a malformed triplet, a --labels that is not a file.
std::optional<OverlaySettings> overlay_settings_from_flags(const OverlayFlags& flags, const CLI::App& app);

}  // namespace pleura::tools
