// CUDA kernels of conv2d (engine/ops/conv2d.h); twin: cpu/conv2d.cpp; tests: tests/ops/test_conv2d.cpp (gpu).
// The convolution passes are cuDNN's (descriptors and algorithm cache in cuda/conv2d_cudnn.{h,cu}); the
// bias is added and reduced by our own kernels, the reduction without atomics (deterministic).
// Under the bf16 policy (engine/precision.h; the engine has already rounded x, w, the bias and grad_y to
// bfloat16 values) the passes run on bfloat16 copies on the tensor cores with float32 accumulation, and
// their outputs, bfloat16 themselves, are widened back to float32 exactly. The forward's bias goes into
// cuDNN's accumulation (the output prefilled with it, beta = 1), so y is rounded once, after the bias, as
// the policy and the CPU round it. Where cuDNN has no bfloat16 algorithm for a shape (an old GPU), the
// float32 passes run on the rounded values, as before.
#include <cuda_bf16.h>

#include <functional>
#include <optional>
#include <utility>

#include "cuda/block_reduce.cuh"
#include "cuda/conv2d_cudnn.h"
#include "cuda/launch.h"
#include "engine/precision.h"

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

// float32 -> bfloat16, rounding to nearest even (exact for the bf16-rounded values the policy passes).
__global__ void to_bf16_kernel(const float* src, __nv_bfloat16* dst, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) { dst[i] = __float2bfloat16_rn(src[i]); }
}

// bfloat16 -> float32, exact.
__global__ void from_bf16_kernel(const __nv_bfloat16* src, float* dst, int64_t n) {
  PLEURA_KERNEL_LOOP(i, n) { dst[i] = __bfloat162float(src[i]); }
}

// y [N, K, P*Q] = bias[k] in bfloat16 (exact: the policy rounded the bias), for cuDNN to add the
// convolution to (beta = 1) before its one rounding of the sum.
__global__ void fill_bias_bf16_kernel(const float* bias, __nv_bfloat16* y, int64_t total, int64_t K, int64_t pq) {
  PLEURA_KERNEL_LOOP(i, total) { y[i] = __float2bfloat16_rn(bias[(i / pq) % K]); }
}

__nv_bfloat16* bf16_data(const Tensor& t) { return static_cast<__nv_bfloat16*>(t.raw()); }

// A float32 tensor's values as a bfloat16 tensor on its device (scratch from the caching allocator).
Tensor as_bf16(const Tensor& t, cudaStream_t s) {
  Tensor out = Tensor::empty(t.shape(), DType::kBFloat16, t.device());
  const int64_t n = t.numel();
  if (n == 0) return out;
  to_bf16_kernel<<<grid_for(n), kBlockThreads, 0, s>>>(t.data<float>(), bf16_data(out), n);
  PLEURA_CUDA_LAUNCH_CHECK();
  return out;
}

// dst (float32) = src (bfloat16), same element count.
void widen_into(const Tensor& src, Tensor& dst, cudaStream_t s) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  from_bf16_kernel<<<grid_for(n), kBlockThreads, 0, s>>>(bf16_data(src), dst.data<float>(), n);
  PLEURA_CUDA_LAUNCH_CHECK();
}

bool bf16_policy(const Tensor& x) { return precision() == Precision::kBFloat16 && x.dtype() == DType::kFloat32; }

void count_bf16_call() {
  count(Counter::kLibraryCall);
  count(Counter::kBf16LibraryCall);
}

// A tensor made on first use and kept for the rest of the op: the bfloat16 copies and outputs a pass
// needs, both for the algorithm choice's trial runs (when it times candidates) and for the real call.
class Lazy {
 public:
  explicit Lazy(std::function<Tensor()> make) : make_(std::move(make)) {}
  const Tensor& get() {
    if (!t_.defined()) t_ = make_();
    return t_;
  }

 private:
  std::function<Tensor()> make_;
  Tensor t_;
};

// The forward on bfloat16 copies; false (nothing done) when cuDNN has no bfloat16 algorithm for it.
bool conv2d_fwd_bf16(cudnnHandle_t h, int dev, const Tensor& x, const Tensor& w, const Tensor& bias,
                     const Conv2dParams& p, Tensor& y) {
  ConvDescriptors d = make_conv_descriptors(x, w, p, ConvStorage::kBFloat16);
  cudaStream_t s = stream(dev);
  Lazy x16([&] { return as_bf16(x, s); }), w16([&] { return as_bf16(w, s); });
  Lazy y16([&] { return Tensor::empty(y.shape(), DType::kBFloat16, y.device()); });
  auto operands = [&] { return PassOperands{x16.get().raw(), w16.get().raw(), y16.get().raw()}; };
  const std::optional<ConvAlgo> a = conv_algo_bf16(h, dev, ConvPass::kForward, x, w, p, d, operands);
  if (!a) return false;
  const PassOperands o = operands();
  float beta = 0.f;
  if (bias.defined() && y.numel() > 0) {
    const int64_t total = y.numel(), K = y.size(1), pq = y.size(2) * y.size(3);
    fill_bias_bf16_kernel<<<grid_for(total), kBlockThreads, 0, s>>>(bias.data<float>(), bf16_data(y16.get()), total,
                                                                     K, pq);
    PLEURA_CUDA_LAUNCH_CHECK();
    beta = 1.f;
  }
  Tensor ws = conv_workspace(*a, x.device());
  PLEURA_CUDNN_CHECK(run_conv_pass(h, ConvPass::kForward, d, *a, conv_workspace_ptr(ws), o, beta));
  count_bf16_call();
  widen_into(y16.get(), y, s);
  return true;
}

// The input and weight gradients on bfloat16 copies; false (nothing done) when cuDNN has no bfloat16
// algorithm for a pass that is asked for.
bool conv2d_bwd_bf16(cudnnHandle_t h, int dev, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                     const Conv2dParams& p, Tensor* grad_x, Tensor* grad_w) {
  ConvDescriptors d = make_conv_descriptors(x, w, p, ConvStorage::kBFloat16);
  cudaStream_t s = stream(dev);
  Lazy x16([&] { return as_bf16(x, s); }), w16([&] { return as_bf16(w, s); }), g16([&] { return as_bf16(grad_y, s); });
  Lazy gx16([&] { return Tensor::empty(x.shape(), DType::kBFloat16, x.device()); });
  Lazy gw16([&] { return Tensor::empty(w.shape(), DType::kBFloat16, w.device()); });
  auto data_operands = [&] { return PassOperands{w16.get().raw(), g16.get().raw(), gx16.get().raw()}; };
  auto filter_operands = [&] { return PassOperands{x16.get().raw(), g16.get().raw(), gw16.get().raw()}; };
  std::optional<ConvAlgo> data_algo, filter_algo;
  if (grad_x && !(data_algo = conv_algo_bf16(h, dev, ConvPass::kBackwardData, x, w, p, d, data_operands)))
    return false;
  if (grad_w && !(filter_algo = conv_algo_bf16(h, dev, ConvPass::kBackwardFilter, x, w, p, d, filter_operands)))
    return false;
  if (grad_x) {
    // beta = 0: cuDNN overwrites every element of the output.
    Tensor ws = conv_workspace(*data_algo, x.device());
    PLEURA_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), data_algo->math));
    PLEURA_CUDNN_CHECK(
        run_conv_pass(h, ConvPass::kBackwardData, d, *data_algo, conv_workspace_ptr(ws), data_operands(), 0.f));
    count_bf16_call();
    widen_into(gx16.get(), *grad_x, s);
  }
  if (grad_w) {
    Tensor ws = conv_workspace(*filter_algo, x.device());
    PLEURA_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), filter_algo->math));
    PLEURA_CUDNN_CHECK(
        run_conv_pass(h, ConvPass::kBackwardFilter, d, *filter_algo, conv_workspace_ptr(ws), filter_operands(), 0.f));
    count_bf16_call();
    widen_into(gw16.get(), *grad_w, s);
  }
  return true;
}

}  // namespace

bool conv2d_fwd_bias_deferred(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                              Tensor& y) {
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudnnHandle_t h = cudnn(dev);  // bound to stream(dev)
  if (bf16_policy(x) && conv2d_fwd_bf16(h, dev, x, w, bias, p, y)) return true;
  ConvDescriptors d = make_conv_descriptors(x, w, p);
  const PassOperands o{x.data<float>(), w.data<float>(), y.data<float>()};
  ConvAlgo a = conv_algo(h, dev, ConvPass::kForward, x, w, p, d, [&] { return o; });
  Tensor ws = conv_workspace(a, x.device());
  PLEURA_CUDNN_CHECK(run_conv_pass(h, ConvPass::kForward, d, a, conv_workspace_ptr(ws), o, 0.f));
  count(Counter::kLibraryCall);
  return false;
}

void conv2d_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  if (conv2d_fwd_bias_deferred(x, w, bias, p, y) || !bias.defined()) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  int64_t total = y.numel(), K = y.size(1), pq = y.size(2) * y.size(3);
  conv2d_bias_fwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(bias.data<float>(), y.data<float>(),
                                                                             total, K, pq);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void conv2d_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor* grad_x,
                Tensor* grad_w, Tensor* grad_b) {
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudnnHandle_t h = cudnn(dev);
  if (grad_b) {
    int64_t N = grad_y.size(0), K = grad_y.size(1), pq = grad_y.size(2) * grad_y.size(3);
    // K blocks: K >= 1 is checked by conv2d() and fits a grid dimension (cuDNN limits K to an int).
    conv2d_bias_bwd_kernel<<<static_cast<unsigned>(K), kBiasGradThreads, 0, stream(dev)>>>(
        grad_y.data<float>(), grad_b->data<float>(), N, K, pq);
    PLEURA_CUDA_LAUNCH_CHECK();
  }
  if (!grad_x && !grad_w) return;
  if (bf16_policy(x) && conv2d_bwd_bf16(h, dev, x, w, grad_y, p, grad_x, grad_w)) return;
  ConvDescriptors d = make_conv_descriptors(x, w, p);
  // beta = 0: cuDNN overwrites every element of grad_x and grad_w (the trial runs of a measured choice too).
  if (grad_x) {
    const PassOperands o{w.data<float>(), grad_y.data<float>(), grad_x->data<float>()};
    ConvAlgo a = conv_algo(h, dev, ConvPass::kBackwardData, x, w, p, d, [&] { return o; });
    Tensor ws = conv_workspace(a, x.device());
    PLEURA_CUDNN_CHECK(run_conv_pass(h, ConvPass::kBackwardData, d, a, conv_workspace_ptr(ws), o, 0.f));
    count(Counter::kLibraryCall);
  }
  if (grad_w) {
    const PassOperands o{x.data<float>(), grad_y.data<float>(), grad_w->data<float>()};
    ConvAlgo a = conv_algo(h, dev, ConvPass::kBackwardFilter, x, w, p, d, [&] { return o; });
    Tensor ws = conv_workspace(a, x.device());
    PLEURA_CUDNN_CHECK(run_conv_pass(h, ConvPass::kBackwardFilter, d, a, conv_workspace_ptr(ws), o, 0.f));
    count(Counter::kLibraryCall);
  }
}

}  // namespace pleura::cuda
