// conv2d's direct CUDA kernels for a 1x1 convolution to one output channel (stride 1, no padding, no
// groups): the UNets' final layer, whose logit per pixel is a dot product over the input's channels. cuDNN
// would run it on channels-last bfloat16 copies of its whole input under the bf16 policy (a transposing pass
// over C values per pixel for one output value); these kernels read x as it is stored (float32 NCHW, or the
// bfloat16 copy backward keeps) in one coalesced pass per direction. Used by cuda/conv2d.cu, kernels in
// cuda/conv2d_single_output.cu; the CPU twin is conv2d itself (cpu/conv2d.cpp), the parity test the gpu suite
// of tests/ops/test_conv2d.cpp.
#pragma once

#include "engine/ops/conv2d.h"

namespace pleura::cuda {

// Whether conv2d(x, w, ., p) is such a convolution: w [1, C, 1, 1], stride 1, padding 0, groups 1 (dilation
// does not matter for a 1x1 kernel).
bool single_output_pointwise(const Tensor& w, const Conv2dParams& p);

// y [N, 1, H, W] = sum over c of w[c] * x[n, c] (+ bias), the sum in double, in increasing c. float32: the sum
// rounded to float32, then the bias added in float32 (conv2d's order). bf16 (engine/precision.h's policy):
// x, w and the bias rounded to bfloat16, their sum rounded once to float32 and then to bfloat16.
void conv2d_single_output_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, bool bf16, Tensor& y);

// grad_x [N, C, H, W] = w[c] * grad_y[n] (the product of bfloat16-rounded factors, rounded to bfloat16, under
// bf16); grad_w [1, C, 1, 1] = sum over n, h, w of x * grad_y, in double (the factors rounded to bfloat16 and
// the sum rounded to bfloat16 under bf16). x may be a kept bfloat16 copy. A null output is skipped.
void conv2d_single_output_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, bool bf16, Tensor* grad_x,
                              Tensor* grad_w);

}  // namespace pleura::cuda
