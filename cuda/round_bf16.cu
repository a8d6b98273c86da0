// CUDA kernel of round_bf16 (engine/ops/round_bf16.h); twin: cpu/round_bf16.cpp (the same round_to_bf16).
#include "cuda/launch.h"
#include "engine/ops/round_bf16.h"

namespace pleura::cuda {

namespace {
__global__ void round_bf16_kernel(const float* src, float* dst, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) { dst[i] = round_to_bf16(src[i]); }
}
}  // namespace

void round_bf16(const Tensor& x, Tensor& out) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  round_bf16_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(x.data<float>(), out.data<float>(), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
