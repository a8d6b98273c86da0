// CUDA kernel of add (engine/ops/add.h); twin: cpu/add.cpp.
#include "cuda/launch.h"
#include "engine/ops/add.h"

namespace pleura::cuda {

namespace {
__global__ void add_fwd_kernel(const float* a, const float* b, float* out, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) { out[i] = a[i] + b[i]; }
}
}  // namespace

void add_fwd(const Tensor& a, const Tensor& b, Tensor& out) {
  int64_t n = a.numel();
  if (n == 0) return;
  int dev = a.device().index;
  DeviceGuard guard(dev);
  add_fwd_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(a.data<float>(), b.data<float>(),
                                                                  out.data<float>(), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
