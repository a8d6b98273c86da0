// relu: y = max(x, 0). CPU kernel in cpu/relu.cpp, CUDA kernel in cuda/relu.cu, tests in
// tests/ops/test_relu.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// x: any shape. Returns y of the same shape. The gradient at x == 0 is 0, as in PyTorch.
Tensor relu(const Tensor& x);
// The same, written over x when can_overwrite(x) (engine/autograd.h): a temporary in inference.
Tensor relu(Tensor&& x);

namespace cpu {
void relu_fwd(const Tensor& x, Tensor& y);
// grad_x = grad_y where y > 0, else 0. y may also be bfloat16, the output that backward keeps under the bf16
// policy (engine/saved_activation.h), with grad_y and grad_x float32 (both backends).
void relu_bwd(const Tensor& y, const Tensor& grad_y, Tensor& grad_x);
}  // namespace cpu
namespace cuda {
void relu_fwd(const Tensor& x, Tensor& y);
void relu_bwd(const Tensor& y, const Tensor& grad_y, Tensor& grad_x);
}  // namespace cuda

}  // namespace pleura
