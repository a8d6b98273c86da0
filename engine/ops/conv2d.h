// conv2d: 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d) with stride, padding, dilation and
// groups. CPU kernels in cpu/conv2d.cpp (im2col + OpenBLAS GEMM; cpu/conv2d_grouped.cpp for narrow groups),
// CUDA kernels in cuda/conv2d.cu (cuDNN), tests in tests/ops/test_conv2d.cpp, CPU timing in bench/bench_conv_cpu.cpp.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace pleura {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;  // zero padding on both sides
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};

// Output size along one axis, PyTorch's formula: (in + 2 pad - dilation (kernel - 1) - 1) / stride + 1
// (floor division; a result below 1 means the window does not fit, which conv2d rejects).
int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation);

// x: [N, C, H, W]; weight: [K, C / groups, R, S]; bias: [K], or an undefined Tensor() for no bias.
// All on one device with one dtype (float32, or float64 on the CPU).
// Returns y: [N, K, P, Q], P = conv2d_output_size(H, R, stride_h, pad_h, dilation_h), Q likewise with W, S.
// Input channel block g (C / groups channels) feeds output channel block g (K / groups channels).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p = {});

// conv2d's output shape [N, K, P, Q] for these arguments, after conv2d's checks of them (which throw with
// conv2d's messages). For ops built on the convolution (engine/ops/conv2d_relu.h).
Shape conv2d_output_shape(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p);

// Kernels. Arguments are checked by conv2d(); outputs are preallocated with their final shapes and
// every element is overwritten. bias may be undefined (no bias). In conv2d_bwd a null pointer means that
// gradient is not wanted; grad_x has x's shape, grad_w weight's shape, grad_b [K].
// Under the bf16 policy (engine/precision.h) the CPU kernels compute on the values they are given (conv2d
// rounds x, w, the bias and grad_y to bfloat16 before them and their outputs after), while the CUDA kernels
// round for themselves: their passes run on bfloat16 copies whose conversion rounds, the same
// round-to-nearest-even, and give bfloat16-exact outputs and gradients. So on a GPU the policy costs no
// rounding pass and no rounded copy of x kept for the backward pass. cuda::conv2d_bwd also takes x as the
// bfloat16 tensor that backward keeps (engine/saved_activation.h; grad_x float32 of x's shape), made into its
// channels-last copy directly, without a widening to float32 first.
namespace cpu {
void conv2d_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void conv2d_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor* grad_x,
                Tensor* grad_w, Tensor* grad_b);
// The algorithm conv2d_fwd takes for these arguments (the rules are each algorithm's: cpu/conv2d.cpp's opening
// comment), for ops built on the convolution that fuse their epilogue where that algorithm can.
enum class ConvForwardPath { kGrouped, kWinogradF4, kOneDnn, kWinograd, kIm2col };
ConvForwardPath conv2d_forward_path(const Tensor& x, const Tensor& w, const Conv2dParams& p);
// That path with conv2d_relu's epilogue (engine/ops/conv2d_relu.h): y = relu(conv + bias + residual), residual
// undefined or of y's shape, applied to each product tile as soon as it is written (for cpu::conv2d_relu_fwd).
void conv2d_im2col_relu_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                            const Tensor& residual, Tensor& y);
}  // namespace cpu
namespace cuda {
void conv2d_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void conv2d_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor* grad_x,
                Tensor* grad_w, Tensor* grad_b);
}  // namespace cuda

}  // namespace pleura
