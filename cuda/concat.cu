// CUDA kernels of concat (engine/ops/concat.h); twin: cpu/concat.cpp.
// One launch per input: thread i copies element i of x [N, C_k, H, W] to/from the same (c, h, w) of the
// output shifted by the input's channel offset. Plain copies, so the results are exact.
#include "cuda/launch.h"
#include "engine/ops/concat.h"

namespace pleura::cuda {

namespace {

// In NCHW, sample n of input k is one contiguous block of block_k = C_k*H*W values, which sits at
// n * block_out + offset (offset = offset_k*H*W) in the output: i -> (n, r) = (i / block_k, i % block_k).
__global__ void concat_fwd_kernel(const float* x, float* out, int64_t total, int64_t block_k, int64_t block_out,
                                  int64_t offset) {
  PLEURA_KERNEL_LOOP(i, total) {
    const int64_t n = i / block_k, r = i - n * block_k;
    out[n * block_out + offset + r] = x[i];
  }
}

__global__ void concat_bwd_kernel(const float* grad_out, float* grad_x, int64_t total, int64_t block_k,
                                  int64_t block_out, int64_t offset) {
  PLEURA_KERNEL_LOOP(i, total) {
    const int64_t n = i / block_k, r = i - n * block_k;
    grad_x[i] = grad_out[n * block_out + offset + r];
  }
}

}  // namespace

void concat_fwd(const std::vector<Tensor>& xs, Tensor& out) {
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  const int64_t HW = out.size(2) * out.size(3), block_out = out.size(1) * HW;
  int64_t channel = 0;
  for (const Tensor& x : xs) {
    const int64_t total = x.numel(), block_k = x.size(1) * HW;
    if (total > 0) {
      concat_fwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(x.data<float>(), out.data<float>(), total,
                                                                            block_k, block_out, channel * HW);
      PLEURA_CUDA_LAUNCH_CHECK();
    }
    channel += x.size(1);
  }
}

void concat_bwd(const Tensor& grad_out, const std::vector<int64_t>& offsets, std::vector<Tensor>& grads) {
  const int dev = grad_out.device().index;
  DeviceGuard guard(dev);
  const int64_t HW = grad_out.size(2) * grad_out.size(3), block_out = grad_out.size(1) * HW;
  for (size_t k = 0; k < grads.size(); ++k) {
    Tensor& g = grads[k];
    if (!g.defined() || g.numel() == 0) continue;
    const int64_t total = g.numel(), block_k = g.size(1) * HW;
    concat_bwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(
        grad_out.data<float>(), g.data<float>(), total, block_k, block_out, offsets[k] * HW);
    PLEURA_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace pleura::cuda
