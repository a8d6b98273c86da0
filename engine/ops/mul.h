// mul: elementwise product with the two broadcasts the gates of SE and SCSE blocks need.
// CPU kernels in cpu/mul.cpp, CUDA kernels in cuda/mul.cu, tests in tests/ops/test_mul.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

enum class MulBroadcast {
  kNone,     // x and y have the same shape (any rank)
  kChannel,  // x [N,C,H,W] * y [N,C,1,1]: one factor per (n, c)
  kSpatial,  // x [N,C,H,W] * y [N,1,H,W]: one factor per (n, h, w)
};

// Returns x * y with the shape of x; the broadcast is deduced from y's shape.
Tensor mul(const Tensor& x, const Tensor& y);

namespace cpu {
void mul_fwd(const Tensor& x, const Tensor& y, MulBroadcast mode, Tensor& out);
// grad_x = grad_out * y (broadcast); grad_y = grad_out * x summed over the broadcast dims.
// A null pointer skips that gradient.
void mul_bwd(const Tensor& x, const Tensor& y, MulBroadcast mode, const Tensor& grad_out, Tensor* grad_x,
             Tensor* grad_y);
}  // namespace cpu
namespace cuda {
void mul_fwd(const Tensor& x, const Tensor& y, MulBroadcast mode, Tensor& out);
void mul_bwd(const Tensor& x, const Tensor& y, MulBroadcast mode, const Tensor& grad_out, Tensor* grad_x,
             Tensor* grad_y);
}  // namespace cuda

}  // namespace pleura
