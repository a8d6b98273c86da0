// sigmoid: y = 1 / (1 + exp(-x)). CPU kernels in cpu/sigmoid.cpp, CUDA kernels in cuda/sigmoid.cu,
// tests in tests/ops/test_sigmoid.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// x: any shape. Returns y of the same shape. Stable for large |x| (x = +-1000 gives exactly 1 and 0,
// never NaN); NaN stays NaN.
Tensor sigmoid(const Tensor& x);

namespace cpu {
void sigmoid_fwd(const Tensor& x, Tensor& y);
// grad_x = grad_y * y * (1 - y), from the saved output y.
void sigmoid_bwd(const Tensor& y, const Tensor& grad_y, Tensor& grad_x);
}  // namespace cpu
namespace cuda {
void sigmoid_fwd(const Tensor& x, Tensor& y);
void sigmoid_bwd(const Tensor& y, const Tensor& grad_y, Tensor& grad_x);
}  // namespace cuda

}  // namespace pleura
