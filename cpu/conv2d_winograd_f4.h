// Winograd F(4x4, 3x3) forward kernels for float32 inference on AVX2 + FMA CPUs: 3x3, stride-1, undilated,
// ungrouped convolutions, with conv2d_relu's epilogue (bias, residual sum, ReLU) applied as each output tile
// is written. 36 products per 4x4 output tile and channel pair instead of 144: 4x fewer multiply-adds than a
// direct or im2col convolution, for the price of the two transforms. The results differ from the exact
// convolution by more than float32's rounding (the transforms scale values by up to 25 and 1/24), so they
// run only where a caller asked for them: inference (infer_unet, bench_unet --infer-only) under the engine's
// fast-convolution policy (engine/fast_convolutions.h), never training, whose gradients stay exact. The
// tolerance, measured against the float64 convolution, is in tests/ops/test_conv2d_winograd_f4.cpp.
// Implementation in cpu/conv2d_winograd_f4.cpp; timing per layer in bench/bench_conv_layers.cpp
// (--forward-only: the wf4/dnn column).
#pragma once

#include "cpu/conv2d_onednn.h"
#include "engine/fast_convolutions.h"
#include "engine/ops/conv2d.h"

namespace pleura::cpu {

// True when this CPU has AVX2 and FMA (the kernels' instruction set): conv2d may take them. On AVX-512 CPUs
// too, though oneDNN's kernels there are twice as wide: on a Zen 5 (AVX-512) whole 1024x1024 inference took
// 0.72x (AlbuNet) and 0.87-0.93x (the other two) of oneDNN's time with them (README, "Speed on the CPU").
bool winograd_f4_supported();

// Two sets of kernels that give the same bits (the same operations on every value, one FMA per product term,
// summed in the same order): AVX2's, products of 6 output channels by 16 tiles and transforms of 8 tiles at a
// time, and AVX-512's, products of 16 by 16 and transforms of a whole block of 16 tiles where it lies along
// one row, taken by default where the CPU has AVX-512F. Setting the kernel is for tests and benchmarks; asking
// for AVX-512 on a CPU without it throws.
enum class WinogradF4Kernel { kAvx2, kAvx512 };
bool winograd_f4_avx512_supported();
WinogradF4Kernel winograd_f4_kernel();
void set_winograd_f4_kernel(WinogradF4Kernel kernel);
const char* winograd_f4_kernel_name(WinogradF4Kernel kernel);

// True when conv2d's forward takes these kernels: the policy on (fast_inference_convolutions()),
// winograd_f4_supported(), float32, a 3x3 kernel,
// stride 1, dilation 1, one group, 16 channels or more on each side, and at least 64 output tiles of 4x4 in
// the batch (256 on AVX-512 CPUs), where they were measured faster than oneDNN (the figures are in the .cpp).
bool winograd_f4_applies(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// y = epilogue(conv2d(x, w, bias)), y preallocated with the output shape and overwritten; bias may be
// undefined. Runs whatever the switch; throws when the shape, dtype or CPU does not fit.
void conv2d_winograd_f4_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y,
                            const ConvEpilogue& epilogue = {});

}  // namespace pleura::cpu
