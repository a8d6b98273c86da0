// CUDA kernels of max_pool2d (engine/ops/max_pool2d.h); twin: cpu/max_pool2d.cpp.
// Forward: one thread per output element. Backward: one thread per input element gathering from the
// windows that chose it (overlapping 3/2 windows may share an argmax), so it needs no atomics and gives
// the same bits on every run. Index arithmetic in 32 bits where the tensors allow it (Index; a 64-bit
// division costs dozens of instructions per element: the backward ran at 0.11 of the copy bandwidth in
// the last GPU run with 64-bit indices).
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

template <class Index>
__global__ void max_pool2d_fwd_kernel(const float* x, float* y, int64_t* argmax, Index total, Index H, Index W,
                                      Index P, Index Q, Window<Index> p) {
  PLEURA_KERNEL_LOOP_AS(Index, i, total) {
    // i = ((plane * P) + oh) * Q + ow: consecutive threads take consecutive ow (coalesced stores).
    const Index row = i / Q, ow = i - row * Q;
    const Index plane = row / P, oh = row - plane * P;
    const float* xp = x + static_cast<int64_t>(plane) * H * W;
    // Clip the window to the input: padding is -infinity and never wins. pad <= kernel / 2 and the
    // output-size rule guarantee at least one element remains.
    Index h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
    const Index h1 = min(h0 + p.kernel_h, H), w1 = min(w0 + p.kernel_w, W);
    h0 = max(h0, Index{0});
    w0 = max(w0, Index{0});
    float best = -INFINITY;
    Index best_idx = h0 * W + w0;
    for (Index h = h0; h < h1; ++h) {
      for (Index w = w0; w < w1; ++w) {
        const float v = xp[h * W + w];
        // Same rule as the CPU and PyTorch: strictly greater (first maximum wins ties), or NaN.
        if (v > best || isnan(v)) {
          best = v;
          best_idx = h * W + w;
        }
      }
    }
    y[i] = best;
    if (argmax != nullptr) argmax[i] = best_idx;  // null: no backward to come
  }
}

template <class Index>
__global__ void max_pool2d_bwd_kernel(const float* grad_y, const int64_t* argmax, float* grad_x, Index total,
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
    const int64_t* ap = argmax + plane_offset;
    const int64_t idx = static_cast<int64_t>(h) * W + w;
    // Row-major window order, as the CPU sums; float accumulation over at most
    // ceil(kernel_h / stride_h) * ceil(kernel_w / stride_w) terms.
    float acc = 0.f;
    for (Index oh = oh0; oh < oh1; ++oh)
      for (Index ow = ow0; ow < ow1; ++ow)
        if (ap[oh * Q + ow] == idx) acc += gp[oh * Q + ow];
    grad_x[i] = acc;
  }
}

}  // namespace

void max_pool2d_fwd(const Tensor& x, const MaxPool2dParams& p, Tensor& y, Tensor& argmax) {
  const int64_t total = y.numel();
  if (total == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const unsigned blocks = grid_for(total);
  cudaStream_t s = stream(dev);
  int64_t* argmax_out = argmax.defined() ? argmax.data<int64_t>() : nullptr;
  // The input is larger than the output only by the window's stride: both must fit the narrow index.
  if (narrow_indices_fit(total) && narrow_indices_fit(x.numel())) {
    max_pool2d_fwd_kernel<int32_t><<<blocks, kBlockThreads, 0, s>>>(
        x.data<float>(), y.data<float>(), argmax_out, static_cast<int32_t>(total),
        static_cast<int32_t>(x.size(2)), static_cast<int32_t>(x.size(3)), static_cast<int32_t>(y.size(2)),
        static_cast<int32_t>(y.size(3)), window_of<int32_t>(p));
  } else {
    max_pool2d_fwd_kernel<int64_t><<<blocks, kBlockThreads, 0, s>>>(
        x.data<float>(), y.data<float>(), argmax_out, total, x.size(2), x.size(3), y.size(2), y.size(3),
        window_of<int64_t>(p));
  }
  PLEURA_CUDA_LAUNCH_CHECK();
}

void max_pool2d_bwd(const Tensor& grad_y, const Tensor& argmax, const MaxPool2dParams& p, Tensor& grad_x) {
  const int64_t total = grad_x.numel();
  if (total == 0) return;
  const int dev = grad_x.device().index;
  DeviceGuard guard(dev);
  const unsigned blocks = grid_for(total);
  cudaStream_t s = stream(dev);
  if (narrow_indices_fit(total) && narrow_indices_fit(grad_y.numel())) {
    max_pool2d_bwd_kernel<int32_t><<<blocks, kBlockThreads, 0, s>>>(
        grad_y.data<float>(), argmax.data<int64_t>(), grad_x.data<float>(), static_cast<int32_t>(total),
        static_cast<int32_t>(grad_x.size(2)), static_cast<int32_t>(grad_x.size(3)),
        static_cast<int32_t>(grad_y.size(2)), static_cast<int32_t>(grad_y.size(3)), window_of<int32_t>(p));
  } else {
    max_pool2d_bwd_kernel<int64_t><<<blocks, kBlockThreads, 0, s>>>(
        grad_y.data<float>(), argmax.data<int64_t>(), grad_x.data<float>(), total, grad_x.size(2), grad_x.size(3),
        grad_y.size(2), grad_y.size(3), window_of<int64_t>(p));
  }
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
