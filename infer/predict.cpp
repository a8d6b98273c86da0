// Flip TTA and the running mean over checkpoints (see predict.h).
#include "infer/predict.h"

#include <cstring>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/host_allocator.h"
#include "engine/ops/flip.h"
#include "engine/ops/sigmoid.h"
#include "layers/conv_bn.h"
#include "layers/state_dict.h"
#include "models/registry.h"

namespace pleura::infer {
namespace {

// Stores v as a float32 and reads it back: a compiler allowed to contract a * b + c into one fused
// multiply-add (one rounding) cannot skip the rounding numpy does between the product and the sum.
inline float rounded(float v) {
  volatile float r = v;
  return r;
}

}  // namespace

void running_mean_step(float* mean, const float* p, int64_t n, int64_t i) {
  PLEURA_CHECK(i >= 0 && n >= 0, "[running_mean_step] i ", i, ", n ", n);
  if (i == 0) {
    std::memcpy(mean, p, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  // numpy: float32 array * Python int -> float32; + float32; / Python int -> float32 (true division).
  const float fi = static_cast<float>(i), fi1 = static_cast<float>(i + 1);
  for (int64_t k = 0; k < n; ++k) mean[k] = rounded(rounded(mean[k] * fi) + p[k]) / fi1;
}

std::vector<Tensor> device_probabilities(Model& model, const Tensor& x, bool flip) {
  PLEURA_CHECK(x.ndim() == 4 && x.size(1) == 3 && x.dtype() == DType::kFloat32,
               "[checkpoint_probabilities] expected x float32 [N, 3, H, W], got ", describe(x));
  NoGradGuard no_grad;
  std::vector<Tensor> out{sigmoid(model.forward(x))};
  // The reference flips the batch, predicts, and flips the probabilities back (np.flip on the last axis).
  if (flip) out.push_back(hflip(sigmoid(model.forward(hflip(x)))));
  return out;
}

Tensor mean_on_host(const std::vector<Tensor>& probabilities) {
  Tensor p = probabilities.front().to(Device::cpu());
  if (probabilities.size() == 1) return p;
  const Tensor q = probabilities[1].to(Device::cpu());
  Tensor out = Tensor::empty(p.shape(), DType::kFloat32);
  const float* a = p.data<float>();
  const float* b = q.data<float>();
  float* o = out.data<float>();
  for (int64_t k = 0; k < p.numel(); ++k) o[k] = (a[k] + b[k]) / 2.0f;  // (masks + flipped_masks) / 2
  return out;
}

Tensor checkpoint_probabilities(Model& model, const Tensor& x, bool flip) {
  return mean_on_host(device_probabilities(model, x, flip));
}

CheckpointEnsemble::CheckpointEnsemble(const std::string& model_name, const std::vector<std::string>& checkpoints,
                                       Device device, bool cuda_graphs, CapturedFunction::Note note)
    : checkpoints_(checkpoints), device_(device) {
  PLEURA_CHECK(!checkpoints.empty(), "[CheckpointEnsemble] no checkpoint given");
  for (const std::string& path : checkpoints) {
    std::shared_ptr<Model> model = make_model(model_name, 0);
    // Strict, with the model's aliases and optional keys: throws naming the file.
    load_state_dict_file(model->state_dict_slots(), path, model_load_options(model_name, path));
    model->eval();
    model->to(device);
    // One convolution where there were a convolution and a batch norm (layers/conv_bn.h): a pass less over
    // each activation; the probabilities differ from the unfolded model's by float rounding only.
    fold_batch_norms(*model);
    models_.push_back(std::move(model));
  }
  if (!cuda_graphs) return;
  for (const std::shared_ptr<Model>& model : models_) {
    for (bool flip : {false, true}) {  // captured_[2 * i + flip]
      captured_.push_back(std::make_unique<CapturedFunction>(
          [model, flip](const std::vector<Tensor>& in) { return device_probabilities(*model, in[0], flip); }, note));
    }
  }
}

Tensor CheckpointEnsemble::predict(const Tensor& x, bool flip) const {
  PLEURA_CHECK(x.ndim() == 4 && x.size(1) == 3 && x.dtype() == DType::kFloat32 && x.device().is_cpu(),
               "[CheckpointEnsemble::predict] expected a CPU float32 [N, 3, H, W] batch, got ", describe(x));
  const int64_t N = x.size(0), H = x.size(2), W = x.size(3);
  // Every batch of one shape allocates the same blocks: the first records them, the next take planned places
  // (engine/host_allocator.h).
  const HostPlannedPass pass;
  const Tensor x_dev = x.to(device_);
  Tensor mean = Tensor::empty({N, H, W}, DType::kFloat32);
  for (size_t i = 0; i < models_.size(); ++i) {
    const Tensor p = captured_.empty() ? checkpoint_probabilities(*models_[i], x_dev, flip)
                                       : mean_on_host((*captured_[2 * i + (flip ? 1 : 0)])({x_dev}));
    running_mean_step(mean.data<float>(), p.data<float>(), N * H * W, static_cast<int64_t>(i));
  }
  return mean;
}

}  // namespace pleura::infer
