// CUDA kernels of conv2d (engine/ops/conv2d.h); twin: cpu/conv2d.cpp; tests: tests/ops/test_conv2d.cpp (gpu).
// The convolution passes are cuDNN's (descriptors and algorithm cache in cuda/conv2d_cudnn.{h,cu}); the
// bias is added and reduced by our own kernels, the reduction without atomics (deterministic).
// Under the bf16 policy (engine/precision.h) these kernels do the policy's rounding themselves (engine/
// ops/conv2d.h): the passes run on bfloat16 copies of x, w and grad_y, channels last, made by rounding to
// nearest even (what round_bf16 gives), on the tensor cores with float32 accumulation, and their outputs,
// bfloat16 themselves, are widened back to float32 NCHW exactly. The forward's bias, rounded, goes into
// cuDNN's accumulation (the output prefilled with it, beta = 1), so y is rounded once, after the bias, as
// the CPU rounds it. Where cuDNN has no bfloat16 algorithm for a shape (an old GPU), the float32 passes run
// on rounded copies and their outputs are rounded after. A 1x1 convolution to one channel (the UNets' final
// layer) runs direct kernels instead, in both policies (cuda/conv2d_single_output.h).
#include <cuda_bf16.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>

#include "cuda/block_reduce.cuh"
#include "cuda/conv2d_cudnn.h"
#include "cuda/conv2d_single_output.h"
#include "cuda/launch.h"
#include "engine/ops/bf16_storage.h"
#include "engine/ops/round_bf16.h"
#include "engine/precision.h"

namespace pleura::cuda {

namespace {

constexpr int kBiasGradThreads = 512;

// y [N, K, P*Q] += bias[k]. Adding after cuDNN's pass (beta = 0) keeps the convolution sum and the bias
// rounding in the same order as the CPU kernel (sum first, then + bias).
__global__ void conv2d_bias_fwd_kernel(const float* bias, float* y, int64_t total, int64_t K, int64_t pq) {
  PLEURA_KERNEL_LOOP(i, total) { y[i] += bias[(i / pq) % K]; }
}

// grad_b[k] = sum over n, p, q of grad_y[n, k, p, q] (each term rounded to bfloat16 first under the bf16
// policy): one block per channel, every thread strides over the P*Q plane of each image (coalesced), partial
// sums in double, combined by block_sum in a fixed order.
__global__ void conv2d_bias_bwd_kernel(const float* grad_y, float* grad_b, int64_t N, int64_t K, int64_t pq,
                                       bool round_terms) {
  int64_t k = blockIdx.x;
  double s = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const float* plane = grad_y + (n * K + k) * pq;
    for (int64_t i = threadIdx.x; i < pq; i += blockDim.x) s += round_terms ? round_to_bf16(plane[i]) : plane[i];
  }
  s = block_sum(s);
  if (threadIdx.x == 0) grad_b[k] = static_cast<float>(s);
}

// The bfloat16 passes run in channels-last order (NHWC activations, KRSC weights): cuDNN's tensor-core
// kernels take that order natively, where for NCHW data they transpose the input and the output around
// each call. The transposes happen here instead, inside the conversions to bfloat16 and back that the
// policy needs anyway, so they cost no pass of their own. A [N, C, H, W] tensor is seen as N planes of
// [C, S], S = H * W (a weight [K, C, R, S] as K planes of [C, R*S]), each transposed to [S, C] by 32 x 32
// tiles through shared memory: reads along S and writes along C both coalesced.
constexpr int kTile = 32;
constexpr int kTileRows = 8;  // threads per block: kTile x kTileRows, each moving kTile / kTileRows values

// One plane's tile at (c0, s0) for every plane n (grid z strides over the planes).
dim3 transpose_grid(int64_t planes, int64_t C, int64_t S) {
  const int64_t max_z = 65535;
  return dim3(static_cast<unsigned>((S + kTile - 1) / kTile), static_cast<unsigned>((C + kTile - 1) / kTile),
              static_cast<unsigned>(std::min(planes, max_z)));
}

__device__ inline float widened(float v) { return v; }
__device__ inline float widened(__nv_bfloat16 v) { return __bfloat162float(v); }

// dst[n][s][c] = bfloat16(src[n][c][s]), rounding to nearest even: the policy's rounding, done here (a
// bfloat16 source, the input backward keeps, is only transposed: its values round to themselves).
template <class Src>
__global__ void to_bf16_channels_last_kernel(const Src* src, __nv_bfloat16* dst, int64_t planes, int64_t C,
                                             int64_t S) {
  __shared__ float tile[kTile][kTile + 1];  // +1: the column reads hit 32 different banks
  const int64_t c0 = static_cast<int64_t>(blockIdx.y) * kTile, s0 = static_cast<int64_t>(blockIdx.x) * kTile;
  for (int64_t n = blockIdx.z; n < planes; n += gridDim.z) {
    const Src* in = src + n * C * S;
    __nv_bfloat16* out = dst + n * C * S;
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t c = c0 + r, s = s0 + threadIdx.x;
      if (c < C && s < S) tile[r][threadIdx.x] = widened(in[c * S + s]);
    }
    __syncthreads();
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t s = s0 + r, c = c0 + threadIdx.x;
      if (c < C && s < S) out[s * C + c] = __float2bfloat16_rn(tile[threadIdx.x][r]);
    }
    __syncthreads();  // the tile is refilled for the next plane
  }
}

// dst[n][c][s] = float(src[n][s][c]), exact; with conv2d_relu's epilogue, relu(that + residual[n][c][s])
// (residual null: relu alone), the expressions of cuda/add.cu and cuda/relu.cu, so the bits of those ops.
__global__ void from_bf16_channels_last_kernel(const __nv_bfloat16* src, float* dst, int64_t planes, int64_t C,
                                               int64_t S, const float* residual, bool relu) {
  __shared__ float tile[kTile][kTile + 1];
  const int64_t c0 = static_cast<int64_t>(blockIdx.y) * kTile, s0 = static_cast<int64_t>(blockIdx.x) * kTile;
  for (int64_t n = blockIdx.z; n < planes; n += gridDim.z) {
    const __nv_bfloat16* in = src + n * C * S;
    float* out = dst + n * C * S;
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t s = s0 + r, c = c0 + threadIdx.x;
      if (c < C && s < S) tile[r][threadIdx.x] = __bfloat162float(in[s * C + c]);
    }
    __syncthreads();
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t c = c0 + r, s = s0 + threadIdx.x;
      if (c >= C || s >= S) continue;
      float v = tile[threadIdx.x][r];
      if (residual != nullptr) v = v + residual[n * C * S + c * S + s];
      if (relu) v = v < 0.f ? 0.f : v;
      out[c * S + s] = v;
    }
    __syncthreads();
  }
}

// y [N, P*Q, K] (channels last) = bias[k] rounded to bfloat16, for cuDNN to add the convolution to (beta = 1)
// before its one rounding of the sum.
__global__ void fill_bias_bf16_kernel(const float* bias, __nv_bfloat16* y, int64_t total, int64_t K) {
  PLEURA_KERNEL_LOOP(i, total) { y[i] = __float2bfloat16_rn(bias[i % K]); }
}

__nv_bfloat16* bf16_data(const Tensor& t) { return static_cast<__nv_bfloat16*>(t.raw()); }

// A 4-D tensor's planes and their two sides, as the transposes see them: [dim 0, dim 1, dims 2 * 3].
struct Planes {
  int64_t n, c, s;
};
Planes planes_of(const Tensor& t) { return {t.size(0), t.size(1), t.size(2) * t.size(3)}; }

// A float32 (or bfloat16) NCHW 4-D tensor's values as bfloat16 in channels-last order, in a tensor of the same
// (NCHW) shape whose memory is read as NHWC (scratch from the caching allocator, seen only by the cuDNN
// descriptors of make_conv_descriptors' bfloat16 storage).
Tensor as_bf16_channels_last(const Tensor& t, cudaStream_t s) {
  Tensor out = Tensor::empty(t.shape(), DType::kBFloat16, t.device());
  if (t.numel() == 0) return out;
  const Planes p = planes_of(t);
  const dim3 grid = transpose_grid(p.n, p.c, p.s), block(kTile, kTileRows);
  if (t.dtype() == DType::kBFloat16) {
    to_bf16_channels_last_kernel<<<grid, block, 0, s>>>(bf16_data(t), bf16_data(out), p.n, p.c, p.s);
  } else {
    to_bf16_channels_last_kernel<<<grid, block, 0, s>>>(t.data<float>(), bf16_data(out), p.n, p.c, p.s);
  }
  PLEURA_CUDA_LAUNCH_CHECK();
  return out;
}

// What the widening of a forward's output applies besides: conv2d_relu's sum with a residual (of the
// output's shape; undefined: none) and ReLU.
struct WidenEpilogue {
  const Tensor* residual = nullptr;
  bool relu = false;
};

// dst (float32, NCHW) = src (bfloat16, channels last), of the same shape, with the epilogue.
void widen_from_channels_last(const Tensor& src, Tensor& dst, cudaStream_t s, const WidenEpilogue& e = {}) {
  if (dst.numel() == 0) return;
  const Planes p = planes_of(dst);
  const float* residual = e.residual != nullptr && e.residual->defined() ? e.residual->data<float>() : nullptr;
  from_bf16_channels_last_kernel<<<transpose_grid(p.n, p.c, p.s), dim3(kTile, kTileRows), 0, s>>>(
      bf16_data(src), dst.data<float>(), p.n, p.c, p.s, residual, e.relu);
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

// How a Lazy makes the bfloat16 channels-last copy of t (which outlives the Lazy: an argument of the op).
std::function<Tensor()> bf16_copy_of(const Tensor& t, cudaStream_t s) {
  return [&t, s] { return as_bf16_channels_last(t, s); };
}

// The forward on bfloat16 copies; false (nothing done) when cuDNN has no bfloat16 algorithm for it.
bool conv2d_fwd_bf16(cudnnHandle_t h, int dev, const Tensor& x, const Tensor& w, const Tensor& bias,
                     const Conv2dParams& p, Tensor& y, const WidenEpilogue& epilogue = {}) {
  ConvDescriptors d = make_conv_descriptors(x, w, p, ConvStorage::kBFloat16);
  cudaStream_t s = stream(dev);
  Lazy x16(bf16_copy_of(x, s)), w16(bf16_copy_of(w, s));
  Lazy y16([&] { return Tensor::empty(y.shape(), DType::kBFloat16, y.device()); });
  auto operands = [&] { return PassOperands{x16.get().raw(), w16.get().raw(), y16.get().raw()}; };
  const std::optional<ConvAlgo> a = conv_algo_bf16(h, dev, ConvPass::kForward, x, w, p, d, operands);
  if (!a) return false;
  const PassOperands o = operands();
  float beta = 0.f;
  if (bias.defined() && y.numel() > 0) {
    const int64_t total = y.numel();
    fill_bias_bf16_kernel<<<grid_for(total), kBlockThreads, 0, s>>>(bias.data<float>(), bf16_data(y16.get()), total,
                                                                     y.size(1));
    PLEURA_CUDA_LAUNCH_CHECK();
    beta = 1.f;
  }
  Tensor ws = conv_workspace(*a, x.device());
  PLEURA_CUDNN_CHECK(run_conv_pass(h, ConvPass::kForward, d, *a, conv_workspace_ptr(ws), o, beta));
  count_bf16_call();
  widen_from_channels_last(y16.get(), y, s, epilogue);
  return true;
}

// The input and weight gradients on bfloat16 copies; false (nothing done) when cuDNN has no bfloat16
// algorithm for a pass that is asked for.
bool conv2d_bwd_bf16(cudnnHandle_t h, int dev, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                     const Conv2dParams& p, Tensor* grad_x, Tensor* grad_w) {
  ConvDescriptors d = make_conv_descriptors(x, w, p, ConvStorage::kBFloat16);
  cudaStream_t s = stream(dev);
  Lazy x16(bf16_copy_of(x, s)), w16(bf16_copy_of(w, s)), g16(bf16_copy_of(grad_y, s));
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
    widen_from_channels_last(gx16.get(), *grad_x, s);
  }
  if (grad_w) {
    Tensor ws = conv_workspace(*filter_algo, x.device());
    PLEURA_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), filter_algo->math));
    PLEURA_CUDNN_CHECK(
        run_conv_pass(h, ConvPass::kBackwardFilter, d, *filter_algo, conv_workspace_ptr(ws), filter_operands(), 0.f));
    count_bf16_call();
    widen_from_channels_last(gw16.get(), *grad_w, s);
  }
  return true;
}

}  // namespace

bool conv2d_relu_fwd_bf16(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                          const Tensor& residual, Tensor& y) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  return conv2d_fwd_bf16(cudnn(dev), dev, x, w, bias, p, y, WidenEpilogue{&residual, true});
}

void conv2d_fwd_bias_deferred(const Tensor& x, const Tensor& w, const Conv2dParams& p, Tensor& y) {
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudnnHandle_t h = cudnn(dev);  // bound to stream(dev)
  ConvDescriptors d = make_conv_descriptors(x, w, p);
  const PassOperands o{x.data<float>(), w.data<float>(), y.data<float>()};
  ConvAlgo a = conv_algo(h, dev, ConvPass::kForward, x, w, p, d, [&] { return o; });
  Tensor ws = conv_workspace(a, x.device());
  PLEURA_CUDNN_CHECK(run_conv_pass(h, ConvPass::kForward, d, a, conv_workspace_ptr(ws), o, 0.f));
  count(Counter::kLibraryCall);
}

namespace {

// y += bias[k] (float32: the sum first, then + bias, as the CPU).
void add_bias(const Tensor& bias, Tensor& y) {
  const int64_t total = y.numel(), K = y.size(1), pq = y.size(2) * y.size(3);
  if (total == 0) return;
  conv2d_bias_fwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(y.device().index)>>>(
      bias.data<float>(), y.data<float>(), total, K, pq);
  PLEURA_CUDA_LAUNCH_CHECK();
}

// The input and weight gradients in float32 passes.
void conv2d_bwd_float32(cudnnHandle_t h, int dev, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                        const Conv2dParams& p, Tensor* grad_x, Tensor* grad_w) {
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

}  // namespace

void conv2d_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  // The final 1x1 layer to one channel: a direct kernel instead of cuDNN (cuda/conv2d_single_output.h).
  if (single_output_pointwise(w, p)) return conv2d_single_output_fwd(x, w, bias, bf16_policy(x), y);
  if (bf16_policy(x)) {
    // The bf16 policy, rounding done here (engine/ops/conv2d.h): the bfloat16 pass rounds as it converts;
    // where cuDNN has none, the float32 pass on rounded copies, its output rounded after the bias.
    if (conv2d_fwd_bf16(cudnn(dev), dev, x, w, bias, p, y)) return;
    const Tensor xr = round_bf16(x), wr = round_bf16(w);
    conv2d_fwd_bias_deferred(xr, wr, p, y);
    if (bias.defined()) add_bias(round_bf16(bias), y);
    round_bf16_inplace(y);
    return;
  }
  conv2d_fwd_bias_deferred(x, w, p, y);
  if (bias.defined()) add_bias(bias, y);
}

void conv2d_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor* grad_x,
                Tensor* grad_w, Tensor* grad_b) {
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudnnHandle_t h = cudnn(dev);
  // x in bfloat16: the input backward kept (engine/saved_activation.h), which only the bf16 policy keeps.
  const bool kept_bf16 = x.dtype() == DType::kBFloat16;
  const bool bf16 = kept_bf16 || bf16_policy(x);
  if (grad_b) {
    int64_t N = grad_y.size(0), K = grad_y.size(1), pq = grad_y.size(2) * grad_y.size(3);
    // K blocks: K >= 1 is checked by conv2d() and fits a grid dimension (cuDNN limits K to an int).
    conv2d_bias_bwd_kernel<<<static_cast<unsigned>(K), kBiasGradThreads, 0, stream(dev)>>>(
        grad_y.data<float>(), grad_b->data<float>(), N, K, pq, bf16);
    PLEURA_CUDA_LAUNCH_CHECK();
    if (bf16) round_bf16_inplace(*grad_b);
  }
  if (!grad_x && !grad_w) return;
  if (single_output_pointwise(w, p)) return conv2d_single_output_bwd(x, w, grad_y, bf16, grad_x, grad_w);
  if (!bf16) return conv2d_bwd_float32(h, dev, x, w, grad_y, p, grad_x, grad_w);
  if (conv2d_bwd_bf16(h, dev, x, w, grad_y, p, grad_x, grad_w)) return;
  // No bfloat16 algorithm: the float32 passes on rounded copies, their outputs rounded.
  const Tensor x_rounded = kept_bf16 ? from_bf16_storage(x) : round_bf16(x);
  conv2d_bwd_float32(h, dev, x_rounded, round_bf16(w), round_bf16(grad_y), p, grad_x, grad_w);
  for (Tensor* t : {grad_x, grad_w})
    if (t) round_bf16_inplace(*t);
}

}  // namespace pleura::cuda
