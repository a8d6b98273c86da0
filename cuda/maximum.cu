// CUDA kernels of maximum (engine/ops/maximum.h); twin: cpu/maximum.cpp.
#include "cuda/launch.h"
#include "engine/ops/maximum.h"

namespace pleura::cuda {

namespace {
__global__ void maximum_fwd_kernel(const float* a, const float* b, float* out, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) {
    // Not fmaxf: it returns the other operand for a NaN, and torch.maximum propagates NaN.
    // va != va holds only for NaN; a NaN b fails va > vb and is returned.
    float va = a[i], vb = b[i];
    out[i] = (va > vb || va != va) ? va : vb;
  }
}
__global__ void maximum_bwd_kernel(const float* a, const float* b, const float* grad_out, float* grad_a, float* grad_b,
                                   int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) {
    // Ties split the gradient in halves (torch >= 1.7); g / 2 is exact, so CPU and GPU agree bitwise.
    float va = a[i], vb = b[i];
    float g = va == vb ? grad_out[i] * 0.5f : grad_out[i];
    if (grad_a) grad_a[i] = va < vb ? 0.f : g;
    if (grad_b) grad_b[i] = va > vb ? 0.f : g;
  }
}
}  // namespace

void maximum_fwd(const Tensor& a, const Tensor& b, Tensor& out) {
  int64_t n = a.numel();
  if (n == 0) return;
  int dev = a.device().index;
  DeviceGuard guard(dev);
  maximum_fwd_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(a.data<float>(), b.data<float>(),
                                                                     out.data<float>(), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void maximum_bwd(const Tensor& a, const Tensor& b, const Tensor& grad_out, Tensor* grad_a, Tensor* grad_b) {
  int64_t n = a.numel();
  if (n == 0 || (!grad_a && !grad_b)) return;
  int dev = a.device().index;
  DeviceGuard guard(dev);
  maximum_bwd_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(
      a.data<float>(), b.data<float>(), grad_out.data<float>(), grad_a ? grad_a->data<float>() : nullptr,
      grad_b ? grad_b->data<float>() : nullptr, n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
