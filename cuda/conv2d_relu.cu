// CUDA kernel of conv2d_relu (engine/ops/conv2d_relu.h); twin: cpu/conv2d_relu.cpp. cuDNN's convolution
// without its bias (cuda/conv2d.cu), then the bias, the residual sum and the ReLU in one elementwise kernel
// over y, instead of a bias kernel, an add kernel and a ReLU kernel (two reads and writes of y less). Under
// the bf16 policy the bias is inside the bfloat16 pass's one rounding and the sum and the ReLU are applied as
// its output is widened (cuda/conv2d.cu). A convolution with its epilogue fused inside cuDNN's graph API is
// issue 13's item 4; this is the fallback it keeps.
#include "cuda/conv2d_cudnn.h"
#include "cuda/launch.h"
#include "engine/ops/conv2d_relu.h"
#include "engine/precision.h"

namespace pleura::cuda {

namespace {
// y [N, K, P*Q] = relu((y + bias[k]) + residual), each sum rounded as the unfused kernels round it (the
// bias kernel of cuda/conv2d.cu, then cuda/add.cu), so the same bits; NaN passes the ReLU, as in PyTorch.
__global__ void bias_add_relu_kernel(float* y, const float* bias, const float* residual, int64_t n, int64_t K,
                                     int64_t pq) {
  PLEURA_KERNEL_LOOP(i, n) {
    float v = bias != nullptr ? y[i] + bias[(i / pq) % K] : y[i];
    if (residual != nullptr) v = v + residual[i];
    y[i] = v < 0.f ? 0.f : v;
  }
}
}  // namespace

void conv2d_relu_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                     const Tensor& residual, Tensor& y) {
  const bool bf16 = precision() == Precision::kBFloat16;
  if (bf16 && conv2d_relu_fwd_bf16(x, w, bias, p, residual, y)) return;
  // float32; or bf16 without a bfloat16 algorithm: conv2d's rounded output (bias inside), then the epilogue.
  if (bf16)
    conv2d_fwd(x, w, bias, p, y);
  else
    conv2d_fwd_bias_deferred(x, w, p, y);
  const int64_t n = y.numel();
  if (n == 0) return;
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  const float* b = bias.defined() && !bf16 ? bias.data<float>() : nullptr;
  bias_add_relu_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(
      y.data<float>(), b, residual.defined() ? residual.data<float>() : nullptr, n, y.size(1), y.size(2) * y.size(3));
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
