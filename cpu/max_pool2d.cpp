// CPU kernels of max_pool2d (engine/ops/max_pool2d.h); twin: cuda/max_pool2d.cu.
// One (n, c) plane per task. The backward is a gather (each input element sums the gradients of the
// windows that chose it, in row-major output order, in double), the same scheme as the CUDA kernel.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/float_types.h"
#include "engine/parallel.h"
#include "engine/ops/max_pool2d.h"

namespace pleura::cpu {

void max_pool2d_fwd(const Tensor& x, const MaxPool2dParams& p, Tensor& y, Tensor& argmax) {
  with_float_type(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const int64_t H = x.size(2), W = x.size(3), P = y.size(2), Q = y.size(3);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t* pa = argmax.data<int64_t>();
    parallel_for(x.size(0) * x.size(1), 1, [&](int64_t plane0, int64_t plane1) {
      for (int64_t plane = plane0; plane < plane1; ++plane) {
        const T* xp = px + plane * H * W;
        for (int64_t oh = 0; oh < P; ++oh) {
          // Clip the window to the input: the padding is -infinity and can never win.
          int64_t h0 = oh * p.stride_h - p.pad_h, h1 = std::min(h0 + p.kernel_h, H);
          h0 = std::max<int64_t>(h0, 0);
          for (int64_t ow = 0; ow < Q; ++ow) {
            int64_t w0 = ow * p.stride_w - p.pad_w, w1 = std::min(w0 + p.kernel_w, W);
            w0 = std::max<int64_t>(w0, 0);
            T best = -std::numeric_limits<T>::infinity();
            int64_t best_idx = h0 * W + w0;
            for (int64_t h = h0; h < h1; ++h) {
              for (int64_t w = w0; w < w1; ++w) {
                T v = xp[h * W + w];
                // PyTorch's rule: strictly greater (first maximum wins on ties), or NaN.
                if (v > best || std::isnan(v)) {
                  best = v;
                  best_idx = h * W + w;
                }
              }
            }
            int64_t o = (plane * P + oh) * Q + ow;
            py[o] = best;
            pa[o] = best_idx;
          }
        }
      }
    });
  });
}

void max_pool2d_bwd(const Tensor& grad_y, const Tensor& argmax, const MaxPool2dParams& p, Tensor& grad_x) {
  with_float_type(grad_x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const int64_t H = grad_x.size(2), W = grad_x.size(3), P = grad_y.size(2), Q = grad_y.size(3);
    const T* pg = grad_y.data<T>();
    const int64_t* pa = argmax.data<int64_t>();
    T* pgx = grad_x.data<T>();
    parallel_for(grad_x.size(0) * grad_x.size(1), 1, [&](int64_t plane0, int64_t plane1) {
      for (int64_t plane = plane0; plane < plane1; ++plane) {
        const T* gp = pg + plane * P * Q;
        const int64_t* ap = pa + plane * P * Q;
        for (int64_t h = 0; h < H; ++h) {
          // Windows oh with oh*stride - pad <= h <= oh*stride - pad + kernel - 1.
          int64_t oh0 = h + p.pad_h < p.kernel_h ? 0 : (h + p.pad_h - p.kernel_h) / p.stride_h + 1;
          int64_t oh1 = std::min((h + p.pad_h) / p.stride_h + 1, P);
          for (int64_t w = 0; w < W; ++w) {
            int64_t ow0 = w + p.pad_w < p.kernel_w ? 0 : (w + p.pad_w - p.kernel_w) / p.stride_w + 1;
            int64_t ow1 = std::min((w + p.pad_w) / p.stride_w + 1, Q);
            const int64_t idx = h * W + w;
            double acc = 0.0;
            for (int64_t oh = oh0; oh < oh1; ++oh)
              for (int64_t ow = ow0; ow < ow1; ++ow)
                if (ap[oh * Q + ow] == idx) acc += static_cast<double>(gp[oh * Q + ow]);
            pgx[plane * H * W + idx] = static_cast<T>(acc);
          }
        }
      }
    });
  });
}

}  // namespace pleura::cpu
