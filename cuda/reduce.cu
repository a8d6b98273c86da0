// CUDA kernels of sum and mean (engine/ops/reduce.h); twin: cpu/reduce.cpp.
// Two passes with a grid size fixed by n: per-block partial sums in double, then one block adds the
// partials in order. No atomics, so the result is the same on every run.
#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "engine/ops/reduce.h"

namespace pleura::cuda {

namespace {

constexpr int kReduceThreads = 256;
constexpr int kMaxPartials = 1024;

__global__ void sum_partial_kernel(const float* x, int64_t n, double* partial) {
  double s = 0.0;
  PLEURA_KERNEL_LOOP(i, n) { s += x[i]; }
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_final_kernel(const double* partial, int count, double scale, float* out) {
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
  s = block_sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<float>(scale * s);
}

__global__ void sum_bwd_kernel(const float* grad_out, float scale, float* grad_x, int64_t n) {
  float g = scale * grad_out[0];
  PLEURA_KERNEL_LOOP(i, n) { grad_x[i] = g; }
}

}  // namespace

void sum_fwd(const Tensor& x, double scale, Tensor& out) {
  int64_t n = x.numel();
  int dev = x.device().index;
  DeviceGuard guard(dev);
  int blocks = static_cast<int>(std::min<int64_t>(kMaxPartials, (n + kReduceThreads - 1) / kReduceThreads));
  Tensor partial = Tensor::empty(Shape{blocks}, DType::kFloat64, x.device());
  cudaStream_t s = stream(dev);
  sum_partial_kernel<<<blocks, kReduceThreads, 0, s>>>(x.data<float>(), n, partial.data<double>());
  PLEURA_CUDA_LAUNCH_CHECK();
  sum_final_kernel<<<1, kReduceThreads, 0, s>>>(partial.data<double>(), blocks, scale, out.data<float>());
  PLEURA_CUDA_LAUNCH_CHECK();
}

void sum_bwd(const Tensor& grad_out, double scale, Tensor& grad_x) {
  int64_t n = grad_x.numel();
  int dev = grad_out.device().index;
  DeviceGuard guard(dev);
  sum_bwd_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(grad_out.data<float>(), static_cast<float>(scale),
                                                                 grad_x.data<float>(), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
