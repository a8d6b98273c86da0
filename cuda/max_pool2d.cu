// CUDA kernels of max_pool2d (engine/ops/max_pool2d.h); twin: cpu/max_pool2d.cpp.
// Forward: one thread per output element. Backward: one thread per input element gathering from the
// windows that chose it (overlapping 3/2 windows may share an argmax), so it needs no atomics and gives
// the same bits on every run.
#include "cuda/launch.h"
#include "engine/ops/max_pool2d.h"

namespace pleura::cuda {

namespace {

__global__ void max_pool2d_fwd_kernel(const float* x, float* y, int64_t* argmax, int64_t total, int64_t H,
                                      int64_t W, int64_t P, int64_t Q, MaxPool2dParams p) {
  PLEURA_KERNEL_LOOP(i, total) {
    // i = ((plane * P) + oh) * Q + ow: consecutive threads take consecutive ow (coalesced stores).
    const int64_t ow = i % Q, oh = (i / Q) % P, plane = i / (P * Q);
    const float* xp = x + plane * H * W;
    // Clip the window to the input: padding is -infinity and never wins. pad <= kernel / 2 and the
    // output-size rule guarantee at least one element remains.
    int64_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
    const int64_t h1 = min(h0 + p.kernel_h, H), w1 = min(w0 + p.kernel_w, W);
    h0 = max(h0, int64_t{0});
    w0 = max(w0, int64_t{0});
    float best = -INFINITY;
    int64_t best_idx = h0 * W + w0;
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t w = w0; w < w1; ++w) {
        const float v = xp[h * W + w];
        // Same rule as the CPU and PyTorch: strictly greater (first maximum wins ties), or NaN.
        if (v > best || isnan(v)) {
          best = v;
          best_idx = h * W + w;
        }
      }
    }
    y[i] = best;
    argmax[i] = best_idx;
  }
}

__global__ void max_pool2d_bwd_kernel(const float* grad_y, const int64_t* argmax, float* grad_x, int64_t total,
                                      int64_t H, int64_t W, int64_t P, int64_t Q, MaxPool2dParams p) {
  PLEURA_KERNEL_LOOP(i, total) {
    const int64_t w = i % W, h = (i / W) % H, plane = i / (H * W);
    // The windows containing (h, w): oh*stride - pad <= h <= oh*stride - pad + kernel - 1, i.e.
    // oh in [ceil((h + pad - kernel + 1) / stride), floor((h + pad) / stride)], clipped to [0, P).
    const int64_t oh0 = h + p.pad_h < p.kernel_h ? 0 : (h + p.pad_h - p.kernel_h) / p.stride_h + 1;
    const int64_t oh1 = min((h + p.pad_h) / p.stride_h + 1, P);
    const int64_t ow0 = w + p.pad_w < p.kernel_w ? 0 : (w + p.pad_w - p.kernel_w) / p.stride_w + 1;
    const int64_t ow1 = min((w + p.pad_w) / p.stride_w + 1, Q);
    const float* gp = grad_y + plane * P * Q;
    const int64_t* ap = argmax + plane * P * Q;
    const int64_t idx = h * W + w;
    // Row-major window order, as the CPU sums; float accumulation over at most
    // ceil(kernel_h / stride_h) * ceil(kernel_w / stride_w) terms.
    float acc = 0.f;
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow)
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
  max_pool2d_fwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(
      x.data<float>(), y.data<float>(), argmax.data<int64_t>(), total, x.size(2), x.size(3), y.size(2), y.size(3),
      p);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void max_pool2d_bwd(const Tensor& grad_y, const Tensor& argmax, const MaxPool2dParams& p, Tensor& grad_x) {
  const int64_t total = grad_x.numel();
  if (total == 0) return;
  const int dev = grad_x.device().index;
  DeviceGuard guard(dev);
  max_pool2d_bwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(
      grad_y.data<float>(), argmax.data<int64_t>(), grad_x.data<float>(), total, grad_x.size(2), grad_x.size(3),
      grad_y.size(2), grad_y.size(3), p);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
