// CUDA kernels of sigmoid (engine/ops/sigmoid.h); twin: cpu/sigmoid.cpp.
#include "cuda/launch.h"
#include "engine/ops/sigmoid.h"

namespace pleura::cuda {

namespace {
__global__ void sigmoid_fwd_kernel(const float* x, float* y, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) {
    // Same branches as the CPU: expf only sees -|x|, so it never overflows (x = -1000 gives
    // e = 0 and y = 0 exactly, not inf / inf). expf, not __expf: the fast intrinsic loses accuracy
    // the parity test would see. NaN takes the second branch and stays NaN.
    float v = x[i];
    if (v >= 0.f) {
      y[i] = 1.f / (1.f + expf(-v));
    } else {
      float e = expf(v);
      y[i] = e / (1.f + e);
    }
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
