// sum and mean over all elements, to a one-element tensor of shape []. CPU kernels in cpu/reduce.cpp,
// CUDA kernels in cuda/reduce.cu, tests in tests/ops/test_reduce.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// x: any shape with at least one element. Returns shape [] (0-dim, one element).
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);

namespace cpu {
// out[0] = scale * sum(x). Accumulates in double, in fixed blocks (deterministic).
void sum_fwd(const Tensor& x, double scale, Tensor& out);
// grad_x[i] = scale * grad_out[0].
void sum_bwd(const Tensor& grad_out, double scale, Tensor& grad_x);
}  // namespace cpu
namespace cuda {
void sum_fwd(const Tensor& x, double scale, Tensor& out);
void sum_bwd(const Tensor& grad_out, double scale, Tensor& grad_x);
}  // namespace cuda

}  // namespace pleura
