// hflip: horizontal flip (reverses W), used by flip test-time augmentation. CPU kernel in
// cpu/flip.cpp, CUDA kernel in cuda/flip.cu, tests in tests/ops/test_flip.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// x [N, C, H, W] float -> y [N, C, H, W] with y[n][c][h][w] = x[n][c][h][W-1-w]. The flip is its own
// inverse and its own adjoint: the backward flips the gradient with the same kernel.
Tensor hflip(const Tensor& x);

namespace cpu {
// y (same shape as x, not aliasing it) = x reversed along its last dim.
void hflip_fwd(const Tensor& x, Tensor& y);
}  // namespace cpu
namespace cuda {
void hflip_fwd(const Tensor& x, Tensor& y);
}  // namespace cuda

}  // namespace pleura
