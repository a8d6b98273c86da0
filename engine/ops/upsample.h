// upsample2x: x2 spatial upsampling, nearest or bilinear (PyTorch's align_corners=False with
// scale_factor=2); upsample2x_of_concat: the same of a channel concatenation, in one pass per input.
// CPU kernels in cpu/upsample.cpp, CUDA kernels in cuda/upsample.cu, tests in
// tests/ops/test_upsample.cpp.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace pleura {

enum class UpsampleMode {
  kNearest,   // out[y][x] = in[y / 2][x / 2]
  kBilinear,  // align_corners=False: out[2j] = 0.25 in[j-1] + 0.75 in[j], out[2j+1] = 0.75 in[j] + 0.25 in[j+1]
              // per dim, with in[-1] and in[H] replaced by the border element
};

// x [N, C, H, W] float -> [N, C, 2H, 2W].
Tensor upsample2x(const Tensor& x, UpsampleMode mode);

// upsample2x(concat(xs), mode) (engine/ops/concat.h) without the concatenated tensor: each xs[k] is
// upsampled straight into its channel range of the output, and the backward reads each input's gradient
// straight from that range. The same bits as the two ops (AlbuNet's decoder blocks upsample the
// concatenation of the decoder and the skip; this saves a write and a read of it, and launches).
// xs: one or more float tensors [N, C_k, H, W], equal N, H, W, dtype and device.
Tensor upsample2x_of_concat(const std::vector<Tensor>& xs, UpsampleMode mode);

// Kernels. x's channels are channels [y_channel_offset, y_channel_offset + C) of the larger tensor (y,
// grad_y: [N, C_y, 2H, 2W], C_y >= y_channel_offset + C); the other channels are neither read nor written.
namespace cpu {
// y's channel range from x [N, C, H, W].
void upsample2x_fwd(const Tensor& x, UpsampleMode mode, Tensor& y, int64_t y_channel_offset = 0);
// grad_x [N, C, H, W] = adjoint of the forward applied to grad_y's channel range; every element of
// grad_x is written (a gather over the output positions that read it, in a fixed order).
void upsample2x_bwd(const Tensor& grad_y, UpsampleMode mode, Tensor& grad_x, int64_t y_channel_offset = 0);
}  // namespace cpu
namespace cuda {
void upsample2x_fwd(const Tensor& x, UpsampleMode mode, Tensor& y, int64_t y_channel_offset = 0);
void upsample2x_bwd(const Tensor& grad_y, UpsampleMode mode, Tensor& grad_x, int64_t y_channel_offset = 0);
}  // namespace cuda

}  // namespace pleura
