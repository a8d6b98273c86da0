// adam_step: one fused Adam update of a parameter tensor in place (no autograd); adam_multi_step: the
// same update of many parameters in a few launches, its gradient multiplier and step counts read on the
// device (no host read). CPU kernels in cpu/adam.cpp, CUDA kernels in cuda/adam.cu, the bias corrections
// in engine/ops/adam_math.h (shared), tests in tests/ops/test_adam.cpp; the optimizer that drives them is
// train/optimizer.h.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace pleura {

struct AdamStep {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // coupled L2: added to the gradient before the moments (not AdamW)
  int64_t step = 1;           // 1 for the first update of this parameter (bias correction)
  double grad_scale = 1.0;    // gradient multiplier, e.g. the global-norm clipping factor
};

// param, grad, exp_avg, exp_avg_sq: same shape, dtype and device. For each element, PyTorch's Adam:
//   g = grad * grad_scale + weight_decay * param
//   exp_avg = beta1 * exp_avg + (1 - beta1) * g;  exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g^2
//   param -= lr / (1 - beta1^step) * exp_avg / (sqrt(exp_avg_sq) / sqrt(1 - beta2^step) + eps)
// The bias corrections 1 - beta^step are computed by engine/ops/adam_math.h (the same bits on both
// backends and in adam_multi_step).
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s);

// The hyper-parameters of a multi-tensor step (AdamStep without the per-step values).
struct AdamHyper {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// The tensors of a multi-tensor step: for each i, params[i], grads[i], exp_avgs[i], exp_avg_sqs[i] as
// adam_step's, and step_slots[i], the element of `steps` that counts params[i]'s updates.
struct AdamTensors {
  std::vector<Tensor> params, grads, exp_avgs, exp_avg_sqs;
  std::vector<int64_t> step_slots;
};

// One Adam update of every listed parameter, in place, when `ledger` (engine/ops/step_ledger.h) says the
// step applies; a skipped step changes nothing. Then each counter steps[slot] goes up by one and
// params[i] gets adam_step with that step and grad_scale = the ledger's: the same bits as adam_step.
// steps: float64, on the parameters' device (whole numbers). Nothing is read back on the host.
void adam_multi_step(AdamTensors& t, Tensor& steps, const Tensor& ledger, const AdamHyper& h);

namespace cpu {
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s);
void adam_multi_step(AdamTensors& t, Tensor& steps, const Tensor& ledger, const AdamHyper& h);
}  // namespace cpu
namespace cuda {
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s);
void adam_multi_step(AdamTensors& t, Tensor& steps, const Tensor& ledger, const AdamHyper& h);
}  // namespace cuda

}  // namespace pleura
