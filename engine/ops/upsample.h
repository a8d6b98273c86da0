// upsample2x: x2 spatial upsampling, nearest or bilinear (PyTorch's align_corners=False with
// scale_factor=2). CPU kernels in cpu/upsample.cpp, CUDA kernels in cuda/upsample.cu, tests in
// tests/ops/test_upsample.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

enum class UpsampleMode {
  kNearest,   // out[y][x] = in[y / 2][x / 2]
  kBilinear,  // align_corners=False: out[2j] = 0.25 in[j-1] + 0.75 in[j], out[2j+1] = 0.75 in[j] + 0.25 in[j+1]
              // per dim, with in[-1] and in[H] replaced by the border element
};

// x [N, C, H, W] float -> [N, C, 2H, 2W].
Tensor upsample2x(const Tensor& x, UpsampleMode mode);

namespace cpu {
// y [N, C, 2H, 2W] from x [N, C, H, W].
void upsample2x_fwd(const Tensor& x, UpsampleMode mode, Tensor& y);
// grad_x [N, C, H, W] = adjoint of the forward applied to grad_y [N, C, 2H, 2W]; every element of
// grad_x is written (a gather over the output positions that read it, in a fixed order).
void upsample2x_bwd(const Tensor& grad_y, UpsampleMode mode, Tensor& grad_x);
}  // namespace cpu
namespace cuda {
void upsample2x_fwd(const Tensor& x, UpsampleMode mode, Tensor& y);
void upsample2x_bwd(const Tensor& grad_y, UpsampleMode mode, Tensor& grad_x);
}  // namespace cuda

}  // namespace pleura
