// The whole infer_unet run: inputs, checkpoints, output folder checks, then images in batches through the
// checkpoint ensemble (predict.h), maps written as each batch ends (prob_map.h). The command line is
// tools/infer_unet.cpp. Tests: tests/tools/test_infer_unet.cpp.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "infer/infer_options.h"

namespace pleura::infer {

// The output folder's record of the settings its maps were made with ("infer_settings.txt"): model, size,
// normalisation, flip, format, input folder and the checkpoints in order. --resume requires it to be equal.
inline constexpr const char* kSettingsFile = "infer_settings.txt";
std::string settings_text(const InferOptions& options, const std::vector<std::string>& checkpoints);

// The checkpoint files of `options`, in averaging order (the --weights list, or pipeline_checkpoints);
// every file must exist.
std::vector<std::string> resolve_checkpoints(const InferOptions& options);

struct InferSummary {
  int64_t images = 0;     // inputs found
  int64_t written = 0;    // maps written in this run
  int64_t resumed = 0;    // maps already there (--resume)
  size_t checkpoints = 0;
  double load_seconds = 0;     // reading the checkpoints
  double predict_seconds = 0;  // reading images, the forward passes, writing maps
};

// Runs inference; progress and the checkpoint list go to `log`. Before any map is written: the inputs are
// listed, every checkpoint is loaded (a wrong file fails here), and the output folder must hold no map
// and no settings record (unless resuming with equal settings). Throws pleura::Error on the first failure;
// the maps written until then are complete (each is written atomically), and --resume continues. A stop
// request (engine/interrupt.h) ends the run between batches with Interrupted.
InferSummary run_inference(const InferOptions& options, std::ostream& log, bool terminal);

}  // namespace pleura::infer
