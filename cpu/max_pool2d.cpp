// CPU kernels of max_pool2d (engine/ops/max_pool2d.h); twin: cuda/max_pool2d.cu; tests:
// tests/ops/test_max_pool2d.cpp. One (n, c) plane per task. The backward is a gather (each input element sums
// the gradients of the windows that chose it, in row-major output order, in double), the same scheme as the
// CUDA kernel. Without an argmax to save (no gradient to come), the forward takes each window row's maximum
// first, then the maximum of those rows (plane_maxima).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/float_types.h"
#include "engine/parallel.h"
#include "engine/ops/max_pool2d.h"

namespace pleura::cpu {

namespace {

// The running maximum's step, PyTorch's rule: b replaces a when strictly greater (the first maximum wins on
// ties), or NaN (a NaN anywhere makes the result NaN: the last one met).
template <class T>
inline T take_larger(T a, T b) {
  return b > a || std::isnan(b) ? b : a;
}

// out[ow] = the maximum of row[ow * sw - pw ...] over kw elements, for windows [first, end) that lie wholly
// inside the row (starting from the window's first element instead of -infinity gives the same bits:
// -infinity > -infinity is false, and a NaN replaces it). kw fixed at compile time for the UNets' 2 and 3.
template <class T, int KW>
void inside_windows(const T* __restrict row, T* __restrict out, int64_t first, int64_t end, int64_t sw, int64_t pw,
                    int64_t kw) {
  const int64_t width = KW > 0 ? KW : kw;
  for (int64_t ow = first; ow < end; ++ow) {
    const T* window = row + ow * sw - pw;
    T best = window[0];
    for (int64_t s = 1; s < width; ++s) best = take_larger(best, window[s]);
    out[ow] = best;
  }
}

// y_plane [P, Q] = the window maxima of x_plane [H, W], with no argmax: the maximum of each input row's part of
// every column window (row_max [H, Q]), then of the window's rows. Folding row by row in row-major order gives
// the row-major scan's result to the bit (the first maximum, or the last NaN), and the second pass runs along
// contiguous rows, which the compiler vectorises.
template <class T>
void plane_maxima(const T* xp, int64_t H, int64_t W, int64_t P, int64_t Q, const MaxPool2dParams& p, T* yp,
                  std::vector<T>& row_max) {
  row_max.resize(static_cast<size_t>(H * Q));
  constexpr T lowest = -std::numeric_limits<T>::infinity();
  // Windows [first_inside, end_inside) lie wholly inside the row: no clipping.
  const int64_t sw = p.stride_w, pw = p.pad_w, kw = p.kernel_w;
  const int64_t first_inside = std::min(Q, (pw + sw - 1) / sw);
  const int64_t end_inside = std::clamp<int64_t>(W - kw + pw >= 0 ? (W - kw + pw) / sw + 1 : 0, first_inside, Q);
  for (int64_t h = 0; h < H; ++h) {
    const T* row = xp + h * W;
    T* out = row_max.data() + h * Q;
    auto clipped = [&](int64_t ow) {
      const int64_t w0 = std::max<int64_t>(ow * sw - pw, 0), w1 = std::min(ow * sw - pw + kw, W);
      T best = lowest;
      for (int64_t w = w0; w < w1; ++w) best = take_larger(best, row[w]);
      out[ow] = best;
    };
    for (int64_t ow = 0; ow < first_inside; ++ow) clipped(ow);
    if (kw == 3)
      inside_windows<T, 3>(row, out, first_inside, end_inside, sw, pw, kw);
    else if (kw == 2)
      inside_windows<T, 2>(row, out, first_inside, end_inside, sw, pw, kw);
    else
      inside_windows<T, 0>(row, out, first_inside, end_inside, sw, pw, kw);
    for (int64_t ow = end_inside; ow < Q; ++ow) clipped(ow);
  }
  for (int64_t oh = 0; oh < P; ++oh) {
    const int64_t h0 = std::max<int64_t>(oh * p.stride_h - p.pad_h, 0);
    const int64_t h1 = std::min(oh * p.stride_h - p.pad_h + p.kernel_h, H);
    T* out = yp + oh * Q;
    std::fill(out, out + Q, lowest);
    for (int64_t h = h0; h < h1; ++h) {
      const T* in = row_max.data() + h * Q;
      for (int64_t ow = 0; ow < Q; ++ow) out[ow] = take_larger(out[ow], in[ow]);
    }
  }
}

// y_plane [P, Q] = the window maxima of x_plane [H, W], and offsets [P, Q] the chosen element's offset inside
// each window (engine/ops/max_pool2d.h).
template <class T, class Offset>
void plane_maxima_with_offsets(const T* xp, int64_t H, int64_t W, int64_t P, int64_t Q, const MaxPool2dParams& p,
                               T* yp, Offset* offsets) {
  for (int64_t oh = 0; oh < P; ++oh) {
    // Clip the window to the input: the padding is -infinity and can never win.
    const int64_t top = oh * p.stride_h - p.pad_h;
    const int64_t h0 = std::max<int64_t>(top, 0), h1 = std::min(top + p.kernel_h, H);
    for (int64_t ow = 0; ow < Q; ++ow) {
      const int64_t left = ow * p.stride_w - p.pad_w;
      const int64_t w0 = std::max<int64_t>(left, 0), w1 = std::min(left + p.kernel_w, W);
      T best = -std::numeric_limits<T>::infinity();
      int64_t best_h = h0, best_w = w0;
      for (int64_t h = h0; h < h1; ++h) {
        for (int64_t w = w0; w < w1; ++w) {
          const T v = xp[h * W + w];
          // PyTorch's rule: strictly greater (first maximum wins on ties), or NaN.
          if (v > best || std::isnan(v)) {
            best = v;
            best_h = h, best_w = w;
          }
        }
      }
      yp[oh * Q + ow] = best;
      offsets[oh * Q + ow] = static_cast<Offset>((best_h - top) * p.kernel_w + (best_w - left));
    }
  }
}

// grad_x_plane [H, W]: each element sums, in row-major output order and in double, grad_y over the windows
// whose saved offset points at it.
template <class T, class Offset>
void plane_gradient(const T* gp, const Offset* ap, int64_t H, int64_t W, int64_t P, int64_t Q,
                    const MaxPool2dParams& p, T* gxp) {
  for (int64_t h = 0; h < H; ++h) {
    // Windows oh with oh*stride - pad <= h <= oh*stride - pad + kernel - 1.
    const int64_t oh0 = h + p.pad_h < p.kernel_h ? 0 : (h + p.pad_h - p.kernel_h) / p.stride_h + 1;
    const int64_t oh1 = std::min((h + p.pad_h) / p.stride_h + 1, P);
    for (int64_t w = 0; w < W; ++w) {
      const int64_t ow0 = w + p.pad_w < p.kernel_w ? 0 : (w + p.pad_w - p.kernel_w) / p.stride_w + 1;
      const int64_t ow1 = std::min((w + p.pad_w) / p.stride_w + 1, Q);
      double acc = 0.0;
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        const int64_t row_offset = (h - (oh * p.stride_h - p.pad_h)) * p.kernel_w;
        for (int64_t ow = ow0; ow < ow1; ++ow)
          if (static_cast<int64_t>(ap[oh * Q + ow]) == row_offset + (w - (ow * p.stride_w - p.pad_w)))
            acc += static_cast<double>(gp[oh * Q + ow]);
      }
      gxp[h * W + w] = static_cast<T>(acc);
    }
  }
}

}  // namespace

void max_pool2d_fwd(const Tensor& x, const MaxPool2dParams& p, Tensor& y, Tensor& argmax) {
  with_float_type(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const int64_t H = x.size(2), W = x.size(3), P = y.size(2), Q = y.size(3);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    if (!argmax.defined()) {
      parallel_for(x.size(0) * x.size(1), 1, [&](int64_t plane0, int64_t plane1) {
        std::vector<T> row_max;
        for (int64_t plane = plane0; plane < plane1; ++plane)
          plane_maxima(px + plane * H * W, H, W, P, Q, p, py + plane * P * Q, row_max);
      });
      return;
    }
    with_offset_type(argmax.dtype(), [&](auto offset_tag) {
      using Offset = decltype(offset_tag);
      Offset* pa = argmax.data<Offset>();
      parallel_for(x.size(0) * x.size(1), 1, [&](int64_t plane0, int64_t plane1) {
        for (int64_t plane = plane0; plane < plane1; ++plane)
          plane_maxima_with_offsets(px + plane * H * W, H, W, P, Q, p, py + plane * P * Q, pa + plane * P * Q);
      });
    });
  });
}

void max_pool2d_bwd(const Tensor& grad_y, const Tensor& argmax, const MaxPool2dParams& p, Tensor& grad_x) {
  with_float_type(grad_x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    with_offset_type(argmax.dtype(), [&](auto offset_tag) {
      using Offset = decltype(offset_tag);
      const int64_t H = grad_x.size(2), W = grad_x.size(3), P = grad_y.size(2), Q = grad_y.size(3);
      const T* pg = grad_y.data<T>();
      const Offset* pa = argmax.data<Offset>();
      T* pgx = grad_x.data<T>();
      parallel_for(grad_x.size(0) * grad_x.size(1), 1, [&](int64_t plane0, int64_t plane1) {
        for (int64_t plane = plane0; plane < plane1; ++plane)
          plane_gradient(pg + plane * P * Q, pa + plane * P * Q, H, W, P, Q, p, pgx + plane * H * W);
      });
    });
  });
}

}  // namespace pleura::cpu
