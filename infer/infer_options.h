// The settings of one infer_unet run, read from an INI file (configs/<experiment>_infer.ini, documented
// in configs/README_infer.md); the other spelling, command-line flags, is tools/infer_unet.cpp. Both use
// the checks below. Implementation in infer/infer_options.cpp; tests in tests/infer/test_infer_options.cpp
// and tests/tools/test_infer_unet.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/conv_algorithm_choice.h"
#include "engine/precision.h"
#include "data/augment/normalize.h"
#include "infer/checkpoints.h"
#include "infer/prob_map.h"

namespace pleura::infer {

struct InferOptions {
  std::string model;                        // albunet, resnet50_unet or scse_unet
  std::vector<std::string> weights;         // explicit checkpoint files, averaged in this order; or
  std::optional<PipelineSelection> pipeline;  // checkpoints chosen in a train_unet output folder
  std::string input;                        // see inputs.h
  std::string output;                       // folder of <ImageId>.npy / .png maps
  int64_t size = 0;                         // the model's input side; maps have this size
  bool flip = false;                        // horizontal-flip TTA
  augment::Normalization norm = augment::Normalization::kUnit;
  MapFormat format = MapFormat::kNpy;
  Device device = Device::cpu();
  int64_t batch = 2;                        // images per forward pass
  int workers = 1;                          // threads decoding images and encoding maps
  bool resume = false;                      // skip the images whose map the output folder already holds
  Precision precision = Precision::kFloat32;  // bf16: convolutions in bfloat16 (engine/precision.h)
  // On the CPU, the 3x3 stride-1 convolutions run as Winograd F(4x4,3x3) (cpu/conv2d_winograd_f4.h: about
  // twice as fast, within 5e-5 of each layer's largest output) unless this is true.
  bool exact_convolutions = false;
  // On a GPU, each checkpoint's forward passes of a batch shape run as one CUDA graph after a warm-up
  // (engine/captured_function.h: the same bits, fewer launches; each checkpoint's graph keeps its own
  // activation memory). A CPU device refuses it.
  bool cuda_graphs = false;
  // On a GPU, cuDNN's convolution algorithms timed at first use (measured) or taken from its ranking, the
  // same bits in every run (reproducible); engine/conv_algorithm_choice.h.
  ConvAlgorithmChoice cudnn_algorithms = ConvAlgorithmChoice::kMeasured;
};

// Options from an INI file with "section.key=value" overrides applied first. Unknown sections or keys,
// missing or malformed values and the same mistakes as above are pleura::Errors naming file:line (or
// "--set"). Paths are taken as written (relative to the working folder, as the reference's YAML paths).
InferOptions load_infer_config(const std::string& path, const std::vector<std::string>& overrides);

// Throws a pleura::Error unless `model` is a known model and `size` a positive multiple of its input
// multiple (64 for albunet, 32 for the others); at most 16384.
void check_model_and_size(const std::string& model, int64_t size);

// "0,1,2": non-negative integers, no repeats; `what` names the option in errors.
std::vector<int64_t> parse_index_list(const std::string& what, const std::string& text);
// "K:E[,E...]" (e.g. "0:7,13,17"): a fold and its epochs.
std::pair<int64_t, std::vector<int64_t>> parse_fold_epochs(const std::string& what, const std::string& text);

}  // namespace pleura::infer
