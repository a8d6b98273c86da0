// Direct CUDA kernels of a 1x1 convolution to one output channel (declared in cuda/conv2d_single_output.h;
// CPU twin: cpu/conv2d.cpp; tests: tests/ops/test_conv2d.cpp, gpu suite).
// Forward: one thread per pixel, the channel loop reading x[n, c, p] for consecutive p across a warp
// (coalesced). Input gradient: one thread per element of x. Weight gradient: one block per channel, summing
// its N planes in double (block_sum, an order fixed by the shapes: the same bits on every run).
#include "cuda/block_reduce.cuh"
#include "cuda/conv2d_single_output.h"
#include "cuda/launch.h"
#include "engine/ops/round_bf16.h"
#include "engine/ops/stored_value.h"

namespace pleura::cuda {

namespace {

constexpr int kWeightGradThreads = 512;

// A factor as the pass uses it: rounded to bfloat16 under the bf16 policy (a kept bfloat16 copy rounds to
// itself), else as it is.
template <class X>
__device__ inline float factor(X v, bool bf16) {
  const float f = stored_value(v);
  return bf16 ? round_to_bf16(f) : f;
}

template <class X>
__global__ void single_output_fwd_kernel(const X* x, const float* w, const float* bias, float* y, int64_t C,
                                         int64_t hw, int64_t pixels, bool bf16) {
  PLEURA_KERNEL_LOOP(i, pixels) {
    const int64_t n = i / hw, p = i - n * hw;
    const X* xp = x + n * C * hw + p;
    double s = 0.0;
    // Products of floats (of bfloat16 values under bf16) are exact in double.
    for (int64_t c = 0; c < C; ++c) s += static_cast<double>(factor(w[c], bf16)) * factor(xp[c * hw], bf16);
    if (bf16) {
      if (bias != nullptr) s += round_to_bf16(bias[0]);
      y[i] = round_to_bf16(static_cast<float>(s));
    } else {
      const float sum = static_cast<float>(s);
      y[i] = bias != nullptr ? sum + bias[0] : sum;
    }
  }
}

__global__ void single_output_bwd_data_kernel(const float* w, const float* grad_y, float* grad_x, int64_t C,
                                              int64_t hw, int64_t total, bool bf16) {
  PLEURA_KERNEL_LOOP(i, total) {
    const int64_t plane = i / hw, p = i - plane * hw;
    const int64_t n = plane / C, c = plane - n * C;
    const float v = factor(w[c], bf16) * factor(grad_y[n * hw + p], bf16);
    grad_x[i] = bf16 ? round_to_bf16(v) : v;
  }
}

// Block c: grad_w[c].
template <class X>
__global__ void single_output_bwd_filter_kernel(const X* x, const float* grad_y, float* grad_w, int64_t N,
                                                int64_t C, int64_t hw, bool bf16) {
  const int64_t c = blockIdx.x;
  double s = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const X* xp = x + (n * C + c) * hw;
    const float* gp = grad_y + n * hw;
    for (int64_t p = threadIdx.x; p < hw; p += blockDim.x)
      s += static_cast<double>(factor(xp[p], bf16)) * factor(gp[p], bf16);
  }
  s = block_sum(s);
  if (threadIdx.x == 0) grad_w[c] = bf16 ? round_to_bf16(static_cast<float>(s)) : static_cast<float>(s);
}

}  // namespace

bool single_output_pointwise(const Tensor& w, const Conv2dParams& p) {
  return w.size(0) == 1 && w.size(2) == 1 && w.size(3) == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 &&
         p.pad_w == 0 && p.groups == 1;
}

void conv2d_single_output_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, bool bf16, Tensor& y) {
  const int64_t pixels = y.numel();
  if (pixels == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const int64_t C = x.size(1), hw = x.size(2) * x.size(3);
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
  with_stored_data<float>(x, [&](const auto* px) {
    single_output_fwd_kernel<<<grid_for(pixels), kBlockThreads, 0, stream(dev)>>>(
        px, w.data<float>(), b, y.data<float>(), C, hw, pixels, bf16);
  });
  PLEURA_CUDA_LAUNCH_CHECK();
}

void conv2d_single_output_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, bool bf16, Tensor* grad_x,
                              Tensor* grad_w) {
  const int64_t N = x.size(0), C = x.size(1), hw = x.size(2) * x.size(3);
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = stream(dev);
  if (grad_x != nullptr && grad_x->numel() > 0) {
    const int64_t total = grad_x->numel();
    single_output_bwd_data_kernel<<<grid_for(total), kBlockThreads, 0, s>>>(
        w.data<float>(), grad_y.data<float>(), grad_x->data<float>(), C, hw, total, bf16);
    PLEURA_CUDA_LAUNCH_CHECK();
  }
  if (grad_w != nullptr) {
    // C blocks (C >= 1: conv2d checks it); an empty batch or plane writes zeros.
    with_stored_data<float>(x, [&](const auto* px) {
      single_output_bwd_filter_kernel<<<static_cast<unsigned>(C), kWeightGradThreads, 0, s>>>(
          px, grad_y.data<float>(), grad_w->data<float>(), N, C, hw, bf16);
    });
    PLEURA_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace pleura::cuda
