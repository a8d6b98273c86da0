// CUDA kernel of conv2d_relu (engine/ops/conv2d_relu.h); twin: cpu/conv2d_relu.cpp. cuDNN's convolution
// (cuda/conv2d.cu), then the sum and the ReLU in one elementwise kernel over y, instead of an add kernel and
// a ReLU kernel (one read and write of y less). A convolution with its epilogue fused inside cuDNN's graph API
// is issue 13's item 4; this is the unfused fallback it keeps.
#include "cuda/launch.h"
#include "engine/ops/conv2d_relu.h"

namespace pleura::cuda {

namespace {
__global__ void add_relu_kernel(float* y, const float* residual, int64_t n) {
  // The expressions of cuda/add.cu and cuda/relu.cu: NaN passes through the ReLU, as in PyTorch.
  PLEURA_KERNEL_LOOP(i, n) {
    const float v = residual != nullptr ? y[i] + residual[i] : y[i];
    y[i] = v < 0.f ? 0.f : v;
  }
}
}  // namespace

void conv2d_relu_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                     const Tensor& residual, Tensor& y) {
  conv2d_fwd(x, w, bias, p, y);
  const int64_t n = y.numel();
  if (n == 0) return;
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  add_relu_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(
      y.data<float>(), residual.defined() ? residual.data<float>() : nullptr, n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
