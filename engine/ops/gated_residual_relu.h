// gated_residual_relu: relu(x * gate + residual) in one pass, the end of every SE-ResNeXt bottleneck (x: bn3's
// output, gate: the SE module's channel gate [N, C, 1, 1], residual: the block's input or its downsample). The
// same bits as mul, add and relu in turn: each step is rounded to the dtype as they round it (no fused
// multiply-add), and the gate's gradient is mul's double sum in the same order (on the CPU; on CUDA both are
// float block sums, alike within rounding).
// CPU kernels in cpu/gated_residual_relu.cpp, CUDA kernels in cuda/gated_residual_relu.cu, tests in
// tests/ops/test_gated_residual_relu.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// x [N, C, H, W], gate [N, C, 1, 1], residual x's shape; all of x's dtype and device.
Tensor gated_residual_relu(const Tensor& x, const Tensor& gate, const Tensor& residual);
// The same, written into x's buffer when nothing records and nothing else holds x (inference).
Tensor gated_residual_relu(Tensor&& x, const Tensor& gate, const Tensor& residual);

namespace cpu {
// y may be x itself.
void gated_residual_relu_fwd(const Tensor& x, const Tensor& gate, const Tensor& residual, Tensor& y);
// From the output y: grad_sum = grad_y where y > 0, else 0 (the residual's gradient, relu_bwd's rule);
// grad_x = grad_sum * gate; grad_gate = the sum over each (n, c) plane of grad_sum * x, in double, in
// cpu/reduce.h's lanes as mul_bwd sums a channel gate's gradient.
// A null pointer skips that gradient.
void gated_residual_relu_bwd(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& grad_y,
                             Tensor* grad_sum, Tensor* grad_x, Tensor* grad_gate);
}  // namespace cpu
namespace cuda {
void gated_residual_relu_fwd(const Tensor& x, const Tensor& gate, const Tensor& residual, Tensor& y);
void gated_residual_relu_bwd(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& grad_y,
                             Tensor* grad_sum, Tensor* grad_x, Tensor* grad_gate);
}  // namespace cuda

}  // namespace pleura
