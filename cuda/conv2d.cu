// CUDA kernels of conv2d (engine/ops/conv2d.h); twin: cpu/conv2d.cpp; tests: tests/ops/test_conv2d.cpp (gpu).
// The convolution passes are cuDNN's (descriptors and algorithm cache in cuda/conv2d_cudnn.{h,cu}); the
// bias is added and reduced by our own kernels, the reduction without atomics (deterministic).
#include "cuda/block_reduce.cuh"
#include "cuda/conv2d_cudnn.h"
#include "cuda/launch.h"

namespace pleura::cuda {

namespace {

constexpr int kBiasGradThreads = 512;

// y [N, K, P*Q] += bias[k]. Adding after cuDNN's pass (beta = 0) keeps the convolution sum and the bias
// rounding in the same order as the CPU kernel (sum first, then + bias).
__global__ void conv2d_bias_fwd_kernel(const float* bias, float* y, int64_t total, int64_t K, int64_t pq) {
  PLEURA_KERNEL_LOOP(i, total) { y[i] += bias[(i / pq) % K]; }
}

// grad_b[k] = sum over n, p, q of grad_y[n, k, p, q]: one block per channel, every thread strides over the
// P*Q plane of each image (coalesced), partial sums in double, combined by block_sum in a fixed order.
__global__ void conv2d_bias_bwd_kernel(const float* grad_y, float* grad_b, int64_t N, int64_t K, int64_t pq) {
  int64_t k = blockIdx.x;
  double s = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const float* plane = grad_y + (n * K + k) * pq;
    for (int64_t i = threadIdx.x; i < pq; i += blockDim.x) s += plane[i];
  }
  s = block_sum(s);
  if (threadIdx.x == 0) grad_b[k] = static_cast<float>(s);
}

// Workspace from the caching allocator (stream-ordered, so it may be reused as soon as this op returns).
Tensor workspace(const ConvAlgo& a, Device device) {
  if (a.workspace_bytes == 0) return Tensor();
  return Tensor::empty(Shape{static_cast<int64_t>(a.workspace_bytes)}, DType::kUInt8, device);
}
void* workspace_ptr(const Tensor& ws) { return ws.defined() ? ws.raw() : nullptr; }

}  // namespace

void conv2d_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudnnHandle_t h = cudnn(dev);  // bound to stream(dev)
  ConvDescriptors d = make_conv_descriptors(x, w, p);
  ConvAlgo a = conv_algo(h, dev, ConvPass::kForward, x, w, p, d);
  Tensor ws = workspace(a, x.device());
  const float one = 1.f, zero = 0.f;
  PLEURA_CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x.get(), x.data<float>(), d.w.get(), w.data<float>(),
                                             d.conv.get(), static_cast<cudnnConvolutionFwdAlgo_t>(a.algo),
                                             workspace_ptr(ws), a.workspace_bytes, &zero, d.y.get(), y.data<float>()));
  count(Counter::kLibraryCall);
  if (bias.defined()) {
    int64_t total = y.numel(), K = y.size(1), pq = y.size(2) * y.size(3);
    conv2d_bias_fwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(bias.data<float>(), y.data<float>(),
                                                                               total, K, pq);
    PLEURA_CUDA_LAUNCH_CHECK();
  }
}

void conv2d_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor* grad_x,
                Tensor* grad_w, Tensor* grad_b) {
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudnnHandle_t h = cudnn(dev);
  const float one = 1.f, zero = 0.f;
  if (grad_b) {
    int64_t N = grad_y.size(0), K = grad_y.size(1), pq = grad_y.size(2) * grad_y.size(3);
    // K blocks: K >= 1 is checked by conv2d() and fits a grid dimension (cuDNN limits K to an int).
    conv2d_bias_bwd_kernel<<<static_cast<unsigned>(K), kBiasGradThreads, 0, stream(dev)>>>(
        grad_y.data<float>(), grad_b->data<float>(), N, K, pq);
    PLEURA_CUDA_LAUNCH_CHECK();
  }
  if (!grad_x && !grad_w) return;
  ConvDescriptors d = make_conv_descriptors(x, w, p);
  if (grad_x) {
    // beta = 0: cuDNN overwrites every element of grad_x.
    ConvAlgo a = conv_algo(h, dev, ConvPass::kBackwardData, x, w, p, d);
    Tensor ws = workspace(a, x.device());
    PLEURA_CUDNN_CHECK(
        cudnnConvolutionBackwardData(h, &one, d.w.get(), w.data<float>(), d.y.get(), grad_y.data<float>(), d.conv.get(),
                                     static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo), workspace_ptr(ws),
                                     a.workspace_bytes, &zero, d.x.get(), grad_x->data<float>()));
    count(Counter::kLibraryCall);
  }
  if (grad_w) {
    ConvAlgo a = conv_algo(h, dev, ConvPass::kBackwardFilter, x, w, p, d);
    Tensor ws = workspace(a, x.device());
    PLEURA_CUDNN_CHECK(
        cudnnConvolutionBackwardFilter(h, &one, d.x.get(), x.data<float>(), d.y.get(), grad_y.data<float>(),
                                       d.conv.get(), static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo),
                                       workspace_ptr(ws), a.workspace_bytes, &zero, d.w.get(), grad_w->data<float>()));
    count(Counter::kLibraryCall);
  }
}

}  // namespace pleura::cuda
