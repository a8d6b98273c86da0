// CUDA kernels of global_avg_pool (engine/ops/global_avg_pool.h); twin: cpu/global_avg_pool.cpp.
// Forward: one block per (n, c) plane, a fixed-order block_sum in double; no atomics, so the result is
// the same on every run. Backward: one thread per element of grad_x.
#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "engine/ops/global_avg_pool.h"

namespace pleura::cuda {

namespace {

constexpr int kPoolThreads = 256;

__global__ void global_avg_pool_fwd_kernel(const float* x, float* y, int64_t hw) {
  // blockIdx.x is the plane index n * C + c; planes are contiguous, so the strided loop is coalesced.
  const float* plane = x + static_cast<int64_t>(blockIdx.x) * hw;
  // Double accumulation: planes reach 256 x 256 and more, and the CPU reference sums in double too.
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < hw; i += blockDim.x) s += static_cast<double>(plane[i]);
  s = block_sum(s);
  if (threadIdx.x == 0) y[blockIdx.x] = static_cast<float>(s / static_cast<double>(hw));
}

__global__ void global_avg_pool_bwd_kernel(const float* grad_y, float* grad_x, int64_t total, int64_t hw) {
  // A float division, as the CPU's float path does, so the two agree bit for bit.
  PLEURA_KERNEL_LOOP(i, total) { grad_x[i] = grad_y[i / hw] / static_cast<float>(hw); }
}

}  // namespace

void global_avg_pool_fwd(const Tensor& x, Tensor& y) {
  int64_t planes = x.size(0) * x.size(1), hw = x.size(2) * x.size(3);
  if (planes == 0) return;
  int dev = x.device().index;
  DeviceGuard guard(dev);
  // gridDim.x may reach 2^31 - 1; N * C is far below that for any real network.
  global_avg_pool_fwd_kernel<<<static_cast<unsigned>(planes), kPoolThreads, 0, stream(dev)>>>(x.data<float>(),
                                                                                              y.data<float>(), hw);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void global_avg_pool_bwd(const Tensor& grad_y, Tensor& grad_x) {
  int64_t total = grad_x.numel(), hw = grad_x.size(2) * grad_x.size(3);
  if (total == 0) return;
  int dev = grad_y.device().index;
  DeviceGuard guard(dev);
  global_avg_pool_bwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(grad_y.data<float>(),
                                                                                 grad_x.data<float>(), total, hw);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
