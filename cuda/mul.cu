// CUDA kernels of mul (engine/ops/mul.h); twin: cpu/mul.cpp.
// The broadcast factor's gradient is a reduction: one block per (n, c) for the channel gate, one
// thread per (n, h, w) looping over C for the spatial gate (coalesced across w). No atomics.
#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "engine/ops/mul.h"

namespace pleura::cuda {

namespace {

struct Dims {
  int64_t n, c, hw;
};
Dims dims_of(const Tensor& x) {
  if (x.ndim() != 4) return {1, 1, x.numel()};
  return {x.size(0), x.size(1), x.size(2) * x.size(3)};
}

__global__ void mul_same_kernel(const float* x, const float* y, float* out, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) { out[i] = x[i] * y[i]; }
}

__global__ void mul_channel_kernel(const float* x, const float* y, float* out, int64_t total, int64_t hw) {
  PLEURA_KERNEL_LOOP(i, total) { out[i] = x[i] * y[i / hw]; }
}

__global__ void mul_spatial_kernel(const float* x, const float* y, float* out, int64_t total, int64_t c,
                                   int64_t hw) {
  PLEURA_KERNEL_LOOP(i, total) {
    int64_t s = i % hw, n = i / (c * hw);
    out[i] = x[i] * y[n * hw + s];
  }
}

__global__ void mul_channel_grad_kernel(const float* grad_out, const float* x, float* grad_y, int64_t hw) {
  int64_t p = blockIdx.x;
  const float* g = grad_out + p * hw;
  const float* xp = x + p * hw;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < hw; i += blockDim.x) s += g[i] * xp[i];
  s = block_sum(s);
  if (threadIdx.x == 0) grad_y[p] = s;
}

__global__ void mul_spatial_grad_kernel(const float* grad_out, const float* x, float* grad_y, int64_t n_hw,
                                        int64_t c, int64_t hw) {
  PLEURA_KERNEL_LOOP(q, n_hw) {
    int64_t n = q / hw, s = q % hw;
    float acc = 0.f;
    for (int64_t k = 0; k < c; ++k) {
      int64_t i = (n * c + k) * hw + s;
      acc += grad_out[i] * x[i];
    }
    grad_y[q] = acc;
  }
}

void launch_fwd(const float* x, const float* y, float* out, MulBroadcast mode, Dims d, cudaStream_t s) {
  int64_t total = d.n * d.c * d.hw;
  if (total == 0) return;
  if (mode == MulBroadcast::kNone) {
    mul_same_kernel<<<grid_for(total), kBlockThreads, 0, s>>>(x, y, out, total);
  } else if (mode == MulBroadcast::kChannel) {
    mul_channel_kernel<<<grid_for(total), kBlockThreads, 0, s>>>(x, y, out, total, d.hw);
  } else {
    mul_spatial_kernel<<<grid_for(total), kBlockThreads, 0, s>>>(x, y, out, total, d.c, d.hw);
  }
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace

void mul_fwd(const Tensor& x, const Tensor& y, MulBroadcast mode, Tensor& out) {
  int dev = x.device().index;
  DeviceGuard guard(dev);
  launch_fwd(x.data<float>(), y.data<float>(), out.data<float>(), mode, dims_of(x), stream(dev));
}

void mul_bwd(const Tensor& x, const Tensor& y, MulBroadcast mode, const Tensor& grad_out, Tensor* grad_x,
             Tensor* grad_y) {
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = stream(dev);
  Dims d = dims_of(x);
  if (grad_x) launch_fwd(grad_out.data<float>(), y.data<float>(), grad_x->data<float>(), mode, d, s);
  if (!grad_y) return;
  if (mode == MulBroadcast::kNone) {
    launch_fwd(grad_out.data<float>(), x.data<float>(), grad_y->data<float>(), mode, d, s);
  } else if (mode == MulBroadcast::kChannel) {
    if (d.n * d.c == 0) return;
    mul_channel_grad_kernel<<<static_cast<unsigned>(d.n * d.c), kBlockThreads, 0, s>>>(
        grad_out.data<float>(), x.data<float>(), grad_y->data<float>(), d.hw);
    PLEURA_CUDA_LAUNCH_CHECK();
  } else {
    int64_t n_hw = d.n * d.hw;
    if (n_hw == 0) return;
    mul_spatial_grad_kernel<<<grid_for(n_hw), kBlockThreads, 0, s>>>(grad_out.data<float>(), x.data<float>(),
                                                                      grad_y->data<float>(), n_hw, d.c, d.hw);
    PLEURA_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace pleura::cuda
