// CUDA kernels of relu (engine/ops/relu.h); twin: cpu/relu.cpp.
#include "cuda/launch.h"
#include "engine/ops/relu.h"
#include "engine/ops/stored_value.h"

namespace pleura::cuda {

namespace {
__global__ void relu_fwd_kernel(const float* x, float* y, int64_t n) {
  // x < 0 ? 0 : x lets NaN through, as PyTorch does.
  PLEURA_KERNEL_LOOP(i, n) { y[i] = x[i] < 0.f ? 0.f : x[i]; }
}

// Y: float, or the bits of a bfloat16 output.
template <class Y>
__global__ void relu_bwd_kernel(const Y* y, const float* grad_y, float* grad_x, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) { grad_x[i] = stored_value(y[i]) > 0.f ? grad_y[i] : 0.f; }
}
}  // namespace

void relu_fwd(const Tensor& x, Tensor& y) {
  int64_t n = x.numel();
  if (n == 0) return;
  int dev = x.device().index;
  DeviceGuard guard(dev);
  relu_fwd_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(x.data<float>(), y.data<float>(), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void relu_bwd(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  int64_t n = y.numel();
  if (n == 0) return;
  int dev = y.device().index;
  DeviceGuard guard(dev);
  if (y.dtype() == DType::kBFloat16) {
    relu_bwd_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(static_cast<const uint16_t*>(y.raw()),
                                                                    grad_y.data<float>(), grad_x.data<float>(), n);
  } else {
    relu_bwd_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(y.data<float>(), grad_y.data<float>(),
                                                                    grad_x.data<float>(), n);
  }
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
