// Winograd F(2x2, 3x3) CPU kernels for 3x3, stride-1, undilated, ungrouped convolutions: the forward and
// the input gradient (which is the same kind of convolution, with the kernel turned half a turn and its
// two channel axes swapped). Opt-in (PLEURA_CPU_CONV=winograd): with OpenBLAS's AVX-512 kernels they are
// 1.2-1.9x slower than im2col per layer (bench_conv_layers, AlbuNet at 256x256, 2 threads), the transforms
// being plain scalar loops over memory-bound buffers; with its SSE3 kernels they were 0.6-0.9x. They are the
// correct, tested base for vectorised transforms fused with the products. im2col stays the reference. Implementation in cpu/conv2d_winograd.cpp, tests in tests/ops/test_conv2d_winograd.cpp,
// timing per layer in bench/bench_conv_layers.cpp (--cpu-algo).
#pragma once

#include <string>

#include "cpu/conv_algorithm.h"
#include "engine/ops/conv2d.h"

namespace pleura::cpu {

// True when the forward (and, if pad <= 2 on both axes, the input gradient) of this float32 convolution
// takes the Winograd kernels under kWinograd: 3x3, stride 1, dilation 1, one group, and enough channels on
// both sides for the 16 products to pay for the transforms (rule and measurements in the .cpp).
bool winograd_applies(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// The shape rule of every Winograd kernel here and in cpu/conv2d_winograd_f4.h: a 3x3 kernel, stride 1,
// dilation 1, one group. The require_ form throws naming `op` and what it got.
bool winograd_kernel_fits(const Tensor& w, const Conv2dParams& p);
void require_winograd_kernel_fits(const Tensor& w, const Conv2dParams& p, const char* op);
bool winograd_applies_to_input_grad(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// The kernels, for float32 or float64 (float64 is what the tests compare against im2col to 1e-12). Same
// contracts as cpu::conv2d_fwd (y preallocated, every element written; bias may be undefined) and as the
// grad_x part of cpu::conv2d_bwd (grad_x preallocated with x's shape, overwritten). They throw if the
// shapes are not 3x3 / stride 1 / dilation 1 / one group (and pad <= 2 for the input gradient).
void conv2d_winograd_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void conv2d_winograd_input_grad(const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor& grad_x);

}  // namespace pleura::cpu
