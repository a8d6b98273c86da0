// max_pool2d: 2-D max pooling with PyTorch's output size, padding and tie rules; the forward saves the
// argmax of every window for the backward, as its offset inside the window (one byte for the UNets' pools).
// CPU kernels in cpu/max_pool2d.cpp, CUDA kernels in cuda/max_pool2d.cu, tests in tests/ops/test_max_pool2d.cpp.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace pleura {

// Window geometry. Padding counts as -infinity; it must be at most half the kernel (pad <= kernel / 2,
// PyTorch's rule), so every window holds at least one input element.
struct MaxPool2dParams {
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h = 0, pad_w = 0;
  bool ceil_mode = false;
};

// PyTorch's pooled size along one dim: floor (or ceil) of (in + 2 pad - kernel) / stride, plus 1; with
// ceil_mode, a last window that would start past in + pad (entirely in the right padding) is dropped.
// May return < 1 (max_pool2d then throws).
int64_t max_pool2d_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode);

// x [N, C, H, W] float -> [N, C, P, Q], P = max_pool2d_out_size(H, kernel_h, ...), Q likewise.
// On ties the first maximum in row-major window order wins; a NaN in a window makes the output NaN
// (as PyTorch). The gradient goes to the argmax element only.
Tensor max_pool2d(const Tensor& x, const MaxPool2dParams& p);

// The element type of the saved argmax: uint8 when every offset inside a window fits a byte (kernel_h *
// kernel_w <= 256: the UNets' 3x3 and 2x2 pools, an eighth of int64's bytes), else int64.
DType max_pool2d_offset_dtype(const MaxPool2dParams& p);
// Calls f with a value of that element type (uint8_t or int64_t), for the kernels of both backends.
template <class F>
void with_offset_type(DType dtype, F&& f) {
  if (dtype == DType::kUInt8)
    f(uint8_t{});
  else
    f(int64_t{});
}

namespace cpu {
// y [N, C, P, Q] gets the window maxima; argmax [N, C, P, Q] (of max_pool2d_offset_dtype(p)) gets, per
// output, the chosen element's offset i * kernel_w + j inside its window, rows i and columns j counted from
// the window's first row and column (oh * stride_h - pad_h, ow * stride_w - pad_w), padding included;
// argmax undefined: no backward to come, nothing saved.
void max_pool2d_fwd(const Tensor& x, const MaxPool2dParams& p, Tensor& y, Tensor& argmax);
// grad_x [N, C, H, W] (fully written): each element sums, in row-major output order, grad_y over the
// windows that contain it and chose it as their argmax (a gather: deterministic, no atomics).
void max_pool2d_bwd(const Tensor& grad_y, const Tensor& argmax, const MaxPool2dParams& p, Tensor& grad_x);
}  // namespace cpu
namespace cuda {
void max_pool2d_fwd(const Tensor& x, const MaxPool2dParams& p, Tensor& y, Tensor& argmax);
void max_pool2d_bwd(const Tensor& grad_y, const Tensor& argmax, const MaxPool2dParams& p, Tensor& grad_x);
}  // namespace cuda

}  // namespace pleura
