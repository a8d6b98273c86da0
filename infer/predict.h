// The reference's averaging (unet_pipeline/Inference.py), on a batch of images: per checkpoint
// p = sigmoid(model(x)), with flip TTA p = (p + hflip(sigmoid(model(hflip(x))))) / 2, then the running
// mean over the checkpoints in list order, mean = (mean * i + p) / (i + 1), every step rounded to float32
// as the reference's numpy float32 maps were. Every checkpoint has its own model, loaded once and kept
// (on the chosen device) for the whole run, so images are read once and no per-image map is held
// across checkpoints: memory is the weights of all checkpoints (AlbuNet and ResNet50-UNet about 138 MB
// each, SCSE-UNet 165 MB; 15 checkpoints of SCSE-UNet are 2.5 GB) plus one batch. Tests:
// tests/infer/test_predict.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/captured_function.h"
#include "engine/device.h"
#include "engine/tensor.h"
#include "models/model.h"

namespace pleura::infer {

// The reference's float32 running-mean step over n values: i == 0 copies p (the reference's
// (0 * 0 + p) / 1); otherwise mean = (mean * i + p) / (i + 1) with the product and the sum each rounded
// to float32 (no fused multiply-add) and a true division.
void running_mean_step(float* mean, const float* p, int64_t n, int64_t i);

// p = sigmoid(model(x)), and with `flip` (p + hflip(sigmoid(model(hflip(x))))) / 2 in float32.
// model in eval mode on x's device; x [N, 3, H, W] float32. Returns a CPU float32 [N, 1, H, W] tensor.
Tensor checkpoint_probabilities(Model& model, const Tensor& x, bool flip);
// Its two halves: the device work, {p} or {p, hflip(sigmoid(model(hflip(x))))} on x's device (what a CUDA
// graph captures), and the host's mean of the two, as above.
std::vector<Tensor> device_probabilities(Model& model, const Tensor& x, bool flip);
Tensor mean_on_host(const std::vector<Tensor>& probabilities);

class CheckpointEnsemble {
 public:
  // One model `model_name` per checkpoint file: make_model, strict load_state_dict_file (its error names
  // the file and what does not match), eval mode, moved to `device`. Loads in list order; the first
  // failure throws. cuda_graphs: each model's device work runs as a CUDA graph per batch shape
  // (engine/captured_function.h; the same bits); `note` hears why a shape could not be captured.
  CheckpointEnsemble(const std::string& model_name, const std::vector<std::string>& checkpoints, Device device,
                     bool cuda_graphs = false, CapturedFunction::Note note = {});

  size_t size() const { return models_.size(); }
  Device device() const { return device_; }
  int64_t input_multiple() const { return models_.front()->input_multiple(); }
  const std::vector<std::string>& checkpoints() const { return checkpoints_; }

  // x: CPU float32 [N, 3, H, W] (H, W multiples of input_multiple()). Returns the averaged probabilities,
  // a CPU float32 [N, H, W] tensor (see the file comment).
  Tensor predict(const Tensor& x, bool flip) const;

 private:
  std::vector<std::shared_ptr<Model>> models_;
  std::vector<std::unique_ptr<CapturedFunction>> captured_;  // with cuda_graphs: [2 * model + flip]
  std::vector<std::string> checkpoints_;
  Device device_;
};

}  // namespace pleura::infer
