// adam_step: one fused Adam update of a parameter tensor in place (no autograd). CPU kernel in
// cpu/adam.cpp, CUDA kernel in cuda/adam.cu, tests in tests/ops/test_adam.cpp; the optimizer that drives
// it is train/optimizer.h.
#pragma once

#include <cstdint>

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
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s);

namespace cpu {
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s);
}  // namespace cpu
namespace cuda {
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s);
}  // namespace cuda

}  // namespace pleura
