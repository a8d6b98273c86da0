// Direct (im2col-free) CPU kernels for grouped convolutions with few channels per group, used by
// cpu/conv2d.cpp; implementation in cpu/conv2d_grouped.cpp, tests in tests/ops/test_conv2d.cpp.
#pragma once

#include "engine/ops/conv2d.h"

namespace pleura::cpu {

// True when conv2d_fwd / conv2d_bwd should take the direct path: weight [K, C / groups, R, S] with groups > 1
// and few channels per group (the measured rule is in conv2d_grouped.cpp); depends on shapes and parameters only.
bool grouped_direct_applies(const Tensor& w, const Conv2dParams& p);

// Same contracts as cpu::conv2d_fwd and cpu::conv2d_bwd (engine/ops/conv2d.h), float32 or float64. The
// backward computes grad_x and grad_w (a null pointer skips one); grad_b stays with cpu/conv2d.cpp.
void conv2d_grouped_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void conv2d_grouped_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p,
                        Tensor* grad_x, Tensor* grad_w);

}  // namespace pleura::cpu
