// global_avg_pool: the mean over H and W of each (n, c) plane (the squeeze of SE and SCSE blocks).
// CPU kernels in cpu/global_avg_pool.cpp, CUDA kernels in cuda/global_avg_pool.cu, tests in
// tests/ops/test_global_avg_pool.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// x: [N, C, H, W] with H * W > 0. Returns [N, C, 1, 1]. Sums are deterministic (fixed order, double).
Tensor global_avg_pool(const Tensor& x);

namespace cpu {
// y[n, c] = sum over (h, w) of x[n, c, h, w] / (H * W), summed in double.
void global_avg_pool_fwd(const Tensor& x, Tensor& y);
// grad_x[n, c, h, w] = grad_y[n, c] / (H * W).
void global_avg_pool_bwd(const Tensor& grad_y, Tensor& grad_x);
}  // namespace cpu
namespace cuda {
void global_avg_pool_fwd(const Tensor& x, Tensor& y);
void global_avg_pool_bwd(const Tensor& grad_y, Tensor& grad_x);
}  // namespace cuda

}  // namespace pleura
