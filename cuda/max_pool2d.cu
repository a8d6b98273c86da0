// CUDA kernels of max_pool2d (engine/ops/max_pool2d.h); twin: cpu/max_pool2d.cpp.
// Forward: one thread per output element. Backward: one thread per input element gathering from the
// windows that chose it (overlapping 3/2 windows may share an argmax), so it needs no atomics and gives
// the same bits on every run. The argmax is each window's offset (one byte for kernels up to 256
// elements: engine/ops/max_pool2d.h), so the backward reads an eighth of the bytes an int64 index took.
// Index arithmetic in 32 bits where the tensors allow it (Index; a 64-bit division costs dozens of
// instructions per element: the backward ran at 0.11 of the copy bandwidth in the last GPU run with 64-bit
// indices).
#include "cuda/launch.h"
#include "engine/ops/max_pool2d.h"

namespace pleura::cuda {

namespace {

// The pooling window in Index arithmetic.
template <class Index>
struct Window {
  Index kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};

template <class Index>
Window<Index> window_of(const MaxPool2dParams& p) {
  return {static_cast<Index>(p.kernel_h), static_cast<Index>(p.kernel_w), static_cast<Index>(p.stride_h),
          static_cast<Index>(p.stride_w), static_cast<Index>(p.pad_h),    static_cast<Index>(p.pad_w)};
}

template <class Index, class Offset>
__global__ void max_pool2d_fwd_kernel(const float* x, float* y, Offset* argmax, Index total, Index H, Index W,
                                      Index P, Index Q, Window<Index> p) {
  PLEURA_KERNEL_LOOP_AS(Index, i, total) {
    // i = ((plane * P) + oh) * Q + ow: consecutive threads take consecutive ow (coalesced stores).
    const Index row = i / Q, ow = i - row * Q;
    const Index plane = row / P, oh = row - plane * P;
    const float* xp = x + static_cast<int64_t>(plane) * H * W;
    // Clip the window to the input: padding is -infinity and never wins. pad <= kernel / 2 and the
    // output-size rule guarantee at least one element remains.
    const Index top = oh * p.stride_h - p.pad_h, left = ow * p.stride_w - p.pad_w;
    const Index h0 = max(top, Index{0}), w0 = max(left, Index{0});
    const Index h1 = min(top + p.kernel_h, H), w1 = min(left + p.kernel_w, W);
    float best = -INFINITY;
    Index best_h = h0, best_w = w0;
    for (Index h = h0; h < h1; ++h) {
      for (Index w = w0; w < w1; ++w) {
        const float v = xp[h * W + w];
        // Same rule as the CPU and PyTorch: strictly greater (first maximum wins ties), or NaN.
        if (v > best || isnan(v)) {
          best = v;
          best_h = h, best_w = w;
        }
      }
    }
    y[i] = best;
    // The offset inside the window (null: no backward to come).
    if (argmax != nullptr) argmax[i] = static_cast<Offset>((best_h - top) * p.kernel_w + (best_w - left));
  }
}

template <class Index, class Offset>
__global__ void max_pool2d_bwd_kernel(const float* grad_y, const Offset* argmax, float* grad_x, Index total,
                                      Index H, Index W, Index P, Index Q, Window<Index> p) {
  PLEURA_KERNEL_LOOP_AS(Index, i, total) {
    const Index row = i / W, w = i - row * W;
    const Index plane = row / H, h = row - plane * H;
    // The windows containing (h, w): oh*stride - pad <= h <= oh*stride - pad + kernel - 1, i.e.
    // oh in [ceil((h + pad - kernel + 1) / stride), floor((h + pad) / stride)], clipped to [0, P).
    const Index oh0 = h + p.pad_h < p.kernel_h ? 0 : (h + p.pad_h - p.kernel_h) / p.stride_h + 1;
    const Index oh1 = min((h + p.pad_h) / p.stride_h + 1, P);
    const Index ow0 = w + p.pad_w < p.kernel_w ? 0 : (w + p.pad_w - p.kernel_w) / p.stride_w + 1;
    const Index ow1 = min((w + p.pad_w) / p.stride_w + 1, Q);
    const int64_t plane_offset = static_cast<int64_t>(plane) * P * Q;
    const float* gp = grad_y + plane_offset;
    const Offset* ap = argmax + plane_offset;
    // Row-major window order, as the CPU sums; float accumulation over at most
    // ceil(kernel_h / stride_h) * ceil(kernel_w / stride_w) terms.
    float acc = 0.f;
    for (Index oh = oh0; oh < oh1; ++oh) {
      const Index row_offset = (h - (oh * p.stride_h - p.pad_h)) * p.kernel_w;
      for (Index ow = ow0; ow < ow1; ++ow)
        if (static_cast<Index>(ap[oh * Q + ow]) == row_offset + (w - (ow * p.stride_w - p.pad_w)))
          acc += gp[oh * Q + ow];
    }
    grad_x[i] = acc;
  }
}

template <class Index, class Offset>
void launch_fwd(const Tensor& x, const MaxPool2dParams& p, Tensor& y, Offset* argmax, cudaStream_t s) {
  max_pool2d_fwd_kernel<Index, Offset><<<grid_for(y.numel()), kBlockThreads, 0, s>>>(
      x.data<float>(), y.data<float>(), argmax, static_cast<Index>(y.numel()), static_cast<Index>(x.size(2)),
      static_cast<Index>(x.size(3)), static_cast<Index>(y.size(2)), static_cast<Index>(y.size(3)), window_of<Index>(p));
  PLEURA_CUDA_LAUNCH_CHECK();
}

template <class Index, class Offset>
void launch_bwd(const Tensor& grad_y, const Offset* argmax, const MaxPool2dParams& p, Tensor& grad_x, cudaStream_t s) {
  max_pool2d_bwd_kernel<Index, Offset><<<grid_for(grad_x.numel()), kBlockThreads, 0, s>>>(
      grad_y.data<float>(), argmax, grad_x.data<float>(), static_cast<Index>(grad_x.numel()),
      static_cast<Index>(grad_x.size(2)), static_cast<Index>(grad_x.size(3)), static_cast<Index>(grad_y.size(2)),
      static_cast<Index>(grad_y.size(3)), window_of<Index>(p));
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace

void max_pool2d_fwd(const Tensor& x, const MaxPool2dParams& p, Tensor& y, Tensor& argmax) {
  if (y.numel() == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = stream(dev);
  // The input is larger than the output only by the window's stride: both must fit the narrow index.
  const bool narrow = narrow_indices_fit(y.numel()) && narrow_indices_fit(x.numel());
  // No argmax (no backward to come): the byte-offset instantiation, writing none.
  with_offset_type(argmax.defined() ? argmax.dtype() : DType::kUInt8, [&](auto tag) {
    using Offset = decltype(tag);
    Offset* out = argmax.defined() ? argmax.data<Offset>() : nullptr;
    if (narrow)
      launch_fwd<int32_t>(x, p, y, out, s);
    else
      launch_fwd<int64_t>(x, p, y, out, s);
  });
}

void max_pool2d_bwd(const Tensor& grad_y, const Tensor& argmax, const MaxPool2dParams& p, Tensor& grad_x) {
  if (grad_x.numel() == 0) return;
  const int dev = grad_x.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = stream(dev);
  const bool narrow = narrow_indices_fit(grad_x.numel()) && narrow_indices_fit(grad_y.numel());
  with_offset_type(argmax.dtype(), [&](auto tag) {
    using Offset = decltype(tag);
    if (narrow)
      launch_bwd<int32_t>(grad_y, argmax.data<Offset>(), p, grad_x, s);
    else
      launch_bwd<int64_t>(grad_y, argmax.data<Offset>(), p, grad_x, s);
  });
}

}  // namespace pleura::cuda
