// oneDNN's convolution kernels (Debian's libdnnl: JIT-generated AVX2 / AVX-512 code on blocked channel
// layouts, what PyTorch runs on the CPU) behind the CPU backend, for float32 ungrouped convolutions: the
// forward, the input gradient and the weight gradient. The default CPU algorithm when the build found oneDNN
// (cpu/conv_algorithm.h; PLEURA_CPU_CONV=im2col takes the reference back). Results are the same bits for any
// thread count, as everywhere in the CPU backend: every oneDNN primitive is built for one image and one thread,
// Pleura's pool runs the images in parallel, and the weight gradient adds the images' partial gradients in
// image order. Implementation in cpu/conv2d_onednn.cpp (refusals only, without oneDNN), tests
// in tests/ops/test_conv2d_onednn.cpp, timing per layer in bench/bench_conv_layers.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "engine/ops/conv2d.h"

namespace pleura::cpu {

// True when this build links oneDNN.
bool onednn_built();

// True when oneDNN's kernels can run this convolution: float32, one group, and oneDNN has an optimised (not
// its reference) kernel for the shape (decided once per shape and remembered).
bool onednn_can_run(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// True when conv2d gives it to oneDNN: algorithm kOneDnn, onednn_can_run(), and a shape where oneDNN was
// measured faster than im2col (the rule and its figures are in cpu/conv2d_onednn.cpp).
bool onednn_applies(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// The implementation oneDNN picked for this convolution's forward, e.g. "jit:avx2"; "" when it has none
// but its reference kernel (conv2d then keeps im2col). For benchmarks and tests.
std::string onednn_forward_kernel(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// How many row bands conv2d_onednn_fwd splits each image into (1: the whole image), for tests and benchmarks.
int64_t onednn_forward_bands(const Tensor& x, const Tensor& w, const Conv2dParams& p, bool bias);

// What the forward does to each part of y as soon as it is written (conv2d_relu, engine/ops/conv2d_relu.h):
// y = relu(y + residual) when relu (residual: null, or NCHW data of y's shape); nothing by default.
struct ConvEpilogue {
  bool relu = false;
  const float* residual = nullptr;
};

// Same contracts as cpu::conv2d_fwd and cpu::conv2d_bwd (outputs preallocated and overwritten; a null
// pointer: that gradient is not wanted), but conv2d_onednn_bwd leaves grad_b to the caller. They run whatever
// the algorithm setting, and throw when onednn_can_run() is false.
void conv2d_onednn_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y,
                       const ConvEpilogue& epilogue = {});
void conv2d_onednn_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor* grad_x,
                       Tensor* grad_w);

}  // namespace pleura::cpu
