// conv2d_relu: y = relu(conv2d(x, weight, bias) + residual), the residual optional: a convolution with its
// ReLU (and a residual block's sum) applied while each part of the output is still in the cache, instead of
// one more pass over the whole activation per elementwise op, and one backward node that keeps the output alone
// (the convolution's output before the ReLU is never stored). In bf16 precision the convolution rounds its
// output to bf16 before the sum: on the CPU the three ops composed, on CUDA fused all the same (the sum and
// the ReLU applied as the output is widened from bfloat16, cuda/conv2d.cu). CPU kernel in
// cpu/conv2d_relu.cpp (the epilogue inside oneDNN's row bands, cpu/conv2d_onednn.cpp), CUDA kernel in
// cuda/conv2d_relu.cu, tests in tests/ops/test_conv2d_relu.cpp.
#pragma once

#include "engine/ops/conv2d.h"

namespace pleura {

// x, weight, bias, p: as conv2d. residual: undefined, or a tensor of the convolution's output shape, dtype
// and device. Returns relu(conv2d(x, weight, bias, p) + residual), and its gradients, with the same bits as
// the ops one after another (the same kernels, the same float operations in the same order).
Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p,
                   const Tensor& residual = Tensor());

// True when conv2d_relu takes the fused kernels for this input: anything but a float32 CPU input in bf16
// precision. For tests.
bool conv2d_relu_fuses(const Tensor& x);

// Kernels: y preallocated with the convolution's output shape, every element overwritten; residual undefined
// or of y's shape. Arguments are checked by conv2d_relu().
namespace cpu {
void conv2d_relu_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                     const Tensor& residual, Tensor& y);
// y = relu(y + residual) (residual undefined: relu(y)) over `count` floats: the epilogue's arithmetic, the
// same expressions as cpu/add.cpp and cpu/relu.cpp.
void add_relu_inplace(float* y, const float* residual, int64_t count);
}  // namespace cpu
namespace cuda {
void conv2d_relu_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                     const Tensor& residual, Tensor& y);
}  // namespace cuda

}  // namespace pleura
