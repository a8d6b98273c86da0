// CUDA kernel of hflip (engine/ops/flip.h); twin: cpu/flip.cpp.
#include "cuda/launch.h"
#include "engine/ops/flip.h"

namespace pleura::cuda {

namespace {
__global__ void hflip_fwd_kernel(const float* x, float* y, int64_t total, int64_t W) {
  PLEURA_KERNEL_LOOP(i, total) {
    // i = row * W + w; the source is the mirrored column of the same row. Stores are coalesced, loads
    // are the same cache lines read in reverse order.
    const int64_t w = i % W;
    y[i] = x[i - w + (W - 1 - w)];
  }
}
}  // namespace

void hflip_fwd(const Tensor& x, Tensor& y) {
  const int64_t total = x.numel();
  if (total == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  hflip_fwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(x.data<float>(), y.data<float>(), total,
                                                                      x.size(-1));
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
