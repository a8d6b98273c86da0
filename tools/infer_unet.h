// infer_unet's flag mode, exposed for its tests: the flags' values, their declaration, and the InferOptions
// they give (the INI mode is infer/infer_options.h). The tool itself is infer_unet_tool() (tools/tools.h).
// Tests: tests/tools/test_infer_unet_flags.cpp, tests/tools/test_infer_unet.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "infer/infer_options.h"
#include "tools/runner.h"

namespace pleura::tools {

struct InferFlags {
  std::string model, input, output;
  std::vector<std::string> weights;  // each FILE[,FILE...]
  std::string pipeline, pipeline_name, folds;
  std::string best_folder = "checkpoints", full_folder = "checkpoints";
  std::vector<std::string> epochs;  // each FOLD:E[,E...]
  bool best = false, flip = false, resume = false;
  int64_t top_k = 0, size = 0, batch = 2;
  int workers = 1;
  std::string norm = "unit", format = "npy", device = "cpu";
};

// Declares the flags (and nothing else) on `app`, bound to `flags`.
void declare_infer_flags(CLI::App& app, InferFlags& flags);

// The options of parsed flags. Every mistake (a missing or conflicting option, a malformed list, an
// unknown model, a size that is not a multiple of the model's, an input folder or --weights file that does
// not exist) is a UsageError naming the option.
infer::InferOptions infer_options_from_flags(const InferFlags& flags, const CLI::App& app);

}  // namespace pleura::tools
