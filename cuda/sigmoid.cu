// CUDA kernels of sigmoid (engine/ops/sigmoid.h); twin: cpu/sigmoid.cpp.
#include "cuda/launch.h"
#include "cuda/stable_sigmoid.cuh"
#include "engine/ops/sigmoid.h"

namespace pleura::cuda {

namespace {
__global__ void sigmoid_fwd_kernel(const float* x, float* y, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) {
    y[i] = stable_sigmoid(x[i]);
  }
}
__global__ void sigmoid_bwd_kernel(const float* y, const float* grad_y, float* grad_x, int64_t n) {
  // Same operation order as the CPU, (g * y) * (1 - y), so the float roundings agree.
  PLEURA_KERNEL_LOOP(i, n) { grad_x[i] = grad_y[i] * y[i] * (1.f - y[i]); }
}
}  // namespace

void sigmoid_fwd(const Tensor& x, Tensor& y) {
  int64_t n = x.numel();
  if (n == 0) return;
  int dev = x.device().index;
  DeviceGuard guard(dev);
  sigmoid_fwd_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(x.data<float>(), y.data<float>(), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void sigmoid_bwd(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  int64_t n = y.numel();
  if (n == 0) return;
  int dev = y.device().index;
  DeviceGuard guard(dev);
  sigmoid_bwd_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(y.data<float>(), grad_y.data<float>(),
                                                                     grad_x.data<float>(), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
