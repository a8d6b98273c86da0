// CUDA kernels of bf16_storage (engine/ops/bf16_storage.h); twin: cpu/bf16_storage.cpp (the same bf16_bits and
// bf16_value).
#include "cuda/launch.h"
#include "engine/ops/bf16_storage.h"

namespace pleura::cuda {

namespace {
__global__ void to_bf16_storage_kernel(const float* src, uint16_t* dst, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) { dst[i] = bf16_bits(src[i]); }
}

__global__ void from_bf16_storage_kernel(const uint16_t* src, float* dst, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) { dst[i] = bf16_value(src[i]); }
}
}  // namespace

void to_bf16_storage(const Tensor& x, Tensor& out) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  to_bf16_storage_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(x.data<float>(),
                                                                         static_cast<uint16_t*>(out.raw()), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void from_bf16_storage(const Tensor& x, Tensor& out) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  from_bf16_storage_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(
      static_cast<const uint16_t*>(x.raw()), out.data<float>(), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
