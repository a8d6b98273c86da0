// CPU kernels of conv2d (engine/ops/conv2d.h): im2col + OpenBLAS GEMM; twin: cuda/conv2d.cu;
// tests: tests/ops/test_conv2d.cpp; timing: bench/bench_conv_cpu.cpp.
//
// For image n, the column matrix col [C*R*S, P*Q] holds in row (c, r, s) and column (p, q) the input
// x[n, c, p*stride_h - pad_h + r*dilation_h, q*stride_w - pad_w + s*dilation_w] (0 outside). Group g owns
// the rows of its channels, col_g [Cg*R*S, P*Q], and y_g [Kg, P*Q] = w_g [Kg, Cg*R*S] . col_g,
// grad_w_g += grad_y_g . col_g^T, grad_x = col2im(w_g^T . grad_y_g for every g). The column matrix is built
// for a band of output rows at a time, all groups at once (one parallel pass per band however many groups),
// in a buffer reused for the whole call; the band size depends only on the shapes, never on the thread
// count. A 1x1, stride-1, unpadded convolution uses x itself as the column matrix. Grouped convolutions with
// few channels per group take the direct kernels of cpu/conv2d_grouped.cpp instead (rule there). With
// PLEURA_CPU_CONV=winograd, float32 3x3 stride-1 ones with enough channels take the Winograd kernels of
// cpu/conv2d_winograd.cpp for the forward and the input gradient (rule and measurements there). In a build
// with oneDNN, float32 ungrouped ones take cpu/conv2d_onednn.cpp (the default; PLEURA_CPU_CONV=im2col keeps
// this file's kernels, which stay the reference and run every float64 convolution). In inference, when a
// tool has asked for it (infer_unet, bench_unet --infer-only), float32 3x3 stride-1 ones take the Winograd
// F(4x4,3x3) kernels of cpu/conv2d_winograd_f4.cpp first (forward only; rule there).
#include "engine/ops/conv2d.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "cpu/blas.h"
#include "cpu/conv2d_grouped.h"
#include "cpu/conv2d_onednn.h"
#include "cpu/conv2d_winograd.h"
#include "cpu/conv2d_winograd_f4.h"
#include "cpu/float_types.h"
#include "engine/parallel.h"

namespace pleura::cpu {

namespace {

// Column-buffer budget per band of output rows: big enough for efficient GEMMs (thousands of columns) and
// few parallel passes, small enough to stay in the last-level cache between im2col and the GEMMs that read
// it. Tuned with bench_conv_cpu on a 2-core EPYC (1 MiB L2 per core): 1 MiB and less were much slower,
// 4 to 8 MiB best.
constexpr int64_t kBandBytes = int64_t{4} << 20;
// But never fewer output columns per band than this (or the whole image): with thousands of input
// channels (the SCSE-UNet's decoder, 2048 -> 384 at 16x16) the budget alone gave bands of 48 columns,
// products too thin for OpenBLAS's kernels; 512 made those layers about 10% faster (bench: the decoder's
// 3x3 shapes) and leaves every layer whose bands were already wider unchanged.
constexpr int64_t kMinBandCols = 512;


struct Geom {
  int64_t N, C, H, W, K, R, S, P, Q;
  int64_t G, Cg, Kg;
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t rows;       // Cg*R*S: rows of one group's column matrix
  int64_t pq;         // P*Q
  bool direct;        // 1x1, stride 1, no padding: col = x
  int64_t band_rows;  // output rows per band
};

Geom geom_of(const Tensor& x, const Tensor& w, const Conv2dParams& p, size_t elem_bytes) {
  Geom g{};
  g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.K = w.size(0), g.R = w.size(2), g.S = w.size(3);
  g.sh = p.stride_h, g.sw = p.stride_w, g.ph = p.pad_h, g.pw = p.pad_w, g.dh = p.dilation_h, g.dw = p.dilation_w;
  g.P = conv2d_output_size(g.H, g.R, g.sh, g.ph, g.dh);
  g.Q = conv2d_output_size(g.W, g.S, g.sw, g.pw, g.dw);
  g.G = p.groups, g.Cg = g.C / g.G, g.Kg = g.K / g.G;
  g.rows = g.Cg * g.R * g.S;
  g.pq = g.P * g.Q;
  g.direct = g.R == 1 && g.S == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
  int64_t row_bytes = g.G * g.rows * g.Q * static_cast<int64_t>(elem_bytes);
  const int64_t budget_rows = std::max(kBandBytes / row_bytes, (kMinBandCols + g.Q - 1) / g.Q);
  g.band_rows = g.direct ? g.P : std::clamp<int64_t>(budget_rows, 1, g.P);
  return g;
}

// The column buffer, kept per calling thread between calls: a fresh multi-megabyte allocation per call
// would be page-faulted in every time. It only grows, to the largest band seen: kBandBytes, or one output
// row's columns where that is more.
template <class T>
T* column_buffer(int64_t elems) {
  thread_local std::unique_ptr<T[]> buffer;
  thread_local int64_t capacity = 0;
  if (elems > capacity) {
    buffer.reset();  // free first: never hold the old and the new buffer together
    buffer.reset(new T[static_cast<size_t>(elems)]);
    capacity = elems;
  }
  return buffer.get();
}

// For kernel column s: output columns q in [q_lo, q_hi) read input column q*sw + w0, all others are padding.
struct Span {
  int64_t w0, q_lo, q_hi;
};
Span span_of(const Geom& g, int64_t s) {
  int64_t w0 = s * g.dw - g.pw;
  // First q with q*sw + w0 >= 0, and one past the last q with q*sw + w0 <= W - 1 (ceil divisions).
  int64_t lo = w0 >= 0 ? 0 : (-w0 + g.sw - 1) / g.sw;
  int64_t hi = g.W - w0 <= 0 ? 0 : (g.W - w0 + g.sw - 1) / g.sw;
  hi = std::min(hi, g.Q);
  lo = std::min(lo, hi);
  return {w0, lo, hi};
}

// Runs fn(group) for every group. One group: fn runs here and its products spread over the threads
// (cpu::gemm tiles them). Several groups: one task per group, whose products then run on its thread,
// which suits the many small products of a grouped convolution. cpu::gemm cuts a product into the same
// tiles either way, so results do not depend on the thread count.
template <class Fn>
void for_each_group(const Geom& g, const Fn& fn) {
  if (g.G == 1) {
    fn(0);
    return;
  }
  parallel_for(g.G, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t gr = g0; gr < g1; ++gr) fn(gr);
  });
}

// col [C*R*S, (p1-p0)*Q] from image x_n [C, H, W] for output rows [p0, p1). Parallel over column-matrix
// rows: each row is written by exactly one task.
template <class T>
void im2col(const T* x_n, const Geom& g, int64_t p0, int64_t p1, T* col) {
  int64_t cols = (p1 - p0) * g.Q;
  parallel_for(g.C * g.R * g.S, grain_for_elements(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      int64_t c = row / (g.R * g.S), r = (row / g.S) % g.R, s = row % g.S;
      const T* plane = x_n + c * g.H * g.W;
      Span sp = span_of(g, s);
      T* dst = col + row * cols;
      for (int64_t p = p0; p < p1; ++p, dst += g.Q) {
        int64_t h = p * g.sh - g.ph + r * g.dh;
        if (h < 0 || h >= g.H) {
          std::fill(dst, dst + g.Q, T(0));
          continue;
        }
        const T* src = plane + h * g.W;
        // Padding columns are few (pad_w / stride_w at each end): plain stores, not library calls.
        for (int64_t q = 0; q < sp.q_lo; ++q) dst[q] = T(0);
        if (g.sw == 1) {
          if (sp.q_hi > sp.q_lo)
            std::memcpy(dst + sp.q_lo, src + sp.q_lo + sp.w0, static_cast<size_t>(sp.q_hi - sp.q_lo) * sizeof(T));
        } else {
          for (int64_t q = sp.q_lo; q < sp.q_hi; ++q) dst[q] = src[q * g.sw + sp.w0];
        }
        for (int64_t q = sp.q_hi; q < g.Q; ++q) dst[q] = T(0);
      }
    }
  });
}

// grad_x_n [C, H, W] += col2im(col) for output rows [p0, p1); `first` zeroes grad_x_n first. Parallel over
// input rows (c, h), each gathering its terms in a fixed (r, s) order: deterministic, no write races.
template <class T>
void col2im_add(const T* col, const Geom& g, int64_t p0, int64_t p1, bool first, T* gx_n) {
  int64_t cols = (p1 - p0) * g.Q;
  parallel_for(g.C * g.H, grain_for_elements(g.R * g.S * g.Q), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t c = i / g.H, h = i % g.H;
      T* dst = gx_n + i * g.W;
      if (first) std::fill(dst, dst + g.W, T(0));
      for (int64_t r = 0; r < g.R; ++r) {
        // Output row p reads input row h through kernel row r when p*sh - ph + r*dh == h.
        int64_t t = h + g.ph - r * g.dh;
        if (t < 0 || (g.sh != 1 && t % g.sh != 0)) continue;
        int64_t p = g.sh == 1 ? t : t / g.sh;
        if (p < p0 || p >= p1) continue;
        for (int64_t s = 0; s < g.S; ++s) {
          Span sp = span_of(g, s);
          if (sp.q_hi == sp.q_lo) continue;  // this kernel column only ever sees padding
          const T* src = col + ((c * g.R + r) * g.S + s) * cols + (p - p0) * g.Q;
          if (g.sw == 1) {
            T* d = dst + sp.q_lo + sp.w0;  // q_lo + w0 >= 0: first input column this span touches
            for (int64_t j = 0; j < sp.q_hi - sp.q_lo; ++j) d[j] += src[sp.q_lo + j];
          } else {
            for (int64_t q = sp.q_lo; q < sp.q_hi; ++q) dst[q * g.sw + sp.w0] += src[q];
          }
        }
      }
    }
  });
}

// What fwd_impl applies to each product tile of y as soon as it is written: the bias, then (relu) conv2d_relu's
// residual sum (residual: y's layout, or null) and ReLU, the expressions of cpu/conv2d_relu.cpp.
template <class T>
struct TileEpilogue {
  const T* bias = nullptr;
  bool relu = false;
  const T* residual = nullptr;
};

// Rows (output channels) [k0, k1) and columns [j0, j1) of y_n's planes (pq apart), and residual_n's likewise.
template <class T>
void finish_tile(const TileEpilogue<T>& e, int64_t k0, int64_t k1, int64_t j0, int64_t j1, int64_t pq,
                 const T* residual_n, T* y_n) {
  for (int64_t k = k0; k < k1; ++k) {
    T* y = y_n + k * pq;
    if (e.bias != nullptr) {
      const T b = e.bias[k];
      for (int64_t j = j0; j < j1; ++j) y[j] += b;
    }
    if (!e.relu) continue;
    const T* r = residual_n != nullptr ? residual_n + k * pq : nullptr;
    for (int64_t j = j0; j < j1; ++j) {
      const T v = r != nullptr ? y[j] + r[j] : y[j];
      y[j] = v < T(0) ? T(0) : v;
    }
  }
}

template <class T>
void fwd_impl(const Tensor& x, const Tensor& w, const Geom& g, const TileEpilogue<T>& epilogue, Tensor& y) {
  const T* px = x.data<T>();
  const T* pw = w.data<T>();
  T* py = y.data<T>();
  T* col = g.direct ? nullptr : column_buffer<T>(g.G * g.rows * g.band_rows * g.Q);
  const bool finish = epilogue.bias != nullptr || epilogue.relu;
  for (int64_t n = 0; n < g.N; ++n) {
    const T* x_n = px + n * g.C * g.H * g.W;
    T* y_n = py + n * g.K * g.pq;
    const T* residual_n = epilogue.residual != nullptr ? epilogue.residual + n * g.K * g.pq : nullptr;
    for (int64_t p0 = 0; p0 < g.P; p0 += g.band_rows) {
      int64_t p1 = std::min(g.P, p0 + g.band_rows), cols = (p1 - p0) * g.Q;
      if (!g.direct) im2col(x_n, g, p0, p1, col);
      for_each_group(g, [&](int64_t gr) {
        const T* w_g = pw + gr * g.Kg * g.rows;
        // Direct: x_n's channels of group gr are the column matrix (ldb = H*W = P*Q, one band: P).
        const T* col_g = g.direct ? x_n + gr * g.Cg * g.pq : col + gr * g.rows * cols;
        int64_t ldb = g.direct ? g.pq : cols;
        // The band's columns are a contiguous stretch of each output row of y_g: ldc = P*Q.
        const int64_t k_first = gr * g.Kg, column_first = p0 * g.Q;
        const GemmTileDone tile_done = [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
          finish_tile(epilogue, k_first + i0, k_first + i1, column_first + j0, column_first + j1, g.pq, residual_n, y_n);
        };
        gemm<T>(Trans::kNo, Trans::kNo, g.Kg, cols, g.rows, T(1), w_g, g.rows, col_g + (g.direct ? column_first : 0),
                ldb, T(0), y_n + k_first * g.pq + column_first, g.pq, finish ? tile_done : GemmTileDone());
      });
    }
  }
}

template <class T>
void bwd_impl(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Geom& g, Tensor* grad_x, Tensor* grad_w,
              Tensor* grad_b) {
  const T* px = x.data<T>();
  const T* pw = w.data<T>();
  const T* pgy = grad_y.data<T>();
  T* pgx = grad_x ? grad_x->data<T>() : nullptr;
  T* pgw = grad_w ? grad_w->data<T>() : nullptr;
  if (grad_b) {
    // One output channel per task, summed over (n, p, q) in double into kLanes partial sums (element i to
    // lane i % kLanes: hides the latency of the adds, lets them vectorise), combined in lane order. The
    // order depends only on the shapes.
    T* pgb = grad_b->data<T>();
    constexpr int kLanes = 8;
    parallel_for(g.K, grain_for_elements(g.N * g.pq), [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        double lane[kLanes] = {};
        for (int64_t n = 0; n < g.N; ++n) {
          const T* d = pgy + (n * g.K + k) * g.pq;
          int64_t i = 0;
          for (; i + kLanes <= g.pq; i += kLanes)
            for (int j = 0; j < kLanes; ++j) lane[j] += static_cast<double>(d[i + j]);
          for (; i < g.pq; ++i) lane[i % kLanes] += static_cast<double>(d[i]);
        }
        double s = 0.0;
        for (double v : lane) s += v;
        pgb[k] = static_cast<T>(s);
      }
    });
  }
  if (!pgx && !pgw) return;
  T* col = g.direct ? nullptr : column_buffer<T>(g.G * g.rows * g.band_rows * g.Q);
  // Images and bands in order; grad_w accumulates with beta = 1 after its first product (n = 0, p0 = 0),
  // so its summation order is fixed.
  for (int64_t n = 0; n < g.N; ++n) {
    const T* x_n = px + n * g.C * g.H * g.W;
    const T* gy_n = pgy + n * g.K * g.pq;
    for (int64_t p0 = 0; p0 < g.P; p0 += g.band_rows) {
      int64_t p1 = std::min(g.P, p0 + g.band_rows), cols = (p1 - p0) * g.Q;
      int64_t ldb = g.direct ? g.pq : cols;  // leading dimension of the column matrix
      if (pgw) {
        if (!g.direct) im2col(x_n, g, p0, p1, col);
        T beta = (n == 0 && p0 == 0) ? T(0) : T(1);
        for_each_group(g, [&](int64_t gr) {
          const T* col_g = g.direct ? x_n + gr * g.Cg * g.pq + p0 * g.Q : col + gr * g.rows * cols;
          gemm<T>(Trans::kNo, Trans::kYes, g.Kg, g.rows, cols, T(1), gy_n + gr * g.Kg * g.pq + p0 * g.Q, g.pq, col_g,
                  ldb, beta, pgw + gr * g.Kg * g.rows, g.rows);
        });
      }
      if (pgx) {
        // col_g = w_g^T . grad_y_g band; direct: that is grad_x itself, else col2im scatters it (as a
        // gather per input row) into grad_x.
        T* gx_n = pgx + n * g.C * g.H * g.W;
        for_each_group(g, [&](int64_t gr) {
          T* col_g = g.direct ? gx_n + gr * g.Cg * g.pq + p0 * g.Q : col + gr * g.rows * cols;
          gemm<T>(Trans::kYes, Trans::kNo, g.rows, cols, g.Kg, T(1), pw + gr * g.Kg * g.rows, g.rows,
                  gy_n + gr * g.Kg * g.pq + p0 * g.Q, g.pq, T(0), col_g, ldb);
        });
        if (!g.direct) col2im_add(col, g, p0, p1, p0 == 0, gx_n);
      }
    }
  }
}

}  // namespace

ConvForwardPath conv2d_forward_path(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  if (grouped_direct_applies(w, p)) return ConvForwardPath::kGrouped;
  if (winograd_f4_applies(x, w, p)) return ConvForwardPath::kWinogradF4;
  if (onednn_applies(x, w, p)) return ConvForwardPath::kOneDnn;
  if (winograd_applies(x, w, p)) return ConvForwardPath::kWinograd;
  return ConvForwardPath::kIm2col;
}

void conv2d_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  switch (conv2d_forward_path(x, w, p)) {
    case ConvForwardPath::kGrouped: return conv2d_grouped_fwd(x, w, bias, p, y);
    case ConvForwardPath::kWinogradF4: return conv2d_winograd_f4_fwd(x, w, bias, p, y);
    case ConvForwardPath::kOneDnn: return conv2d_onednn_fwd(x, w, bias, p, y);
    case ConvForwardPath::kWinograd: return conv2d_winograd_fwd(x, w, bias, p, y);
    case ConvForwardPath::kIm2col: break;
  }
  with_float_type(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const TileEpilogue<T> epilogue{.bias = bias.defined() ? bias.data<T>() : nullptr};
    fwd_impl<T>(x, w, geom_of(x, w, p, sizeof(T)), epilogue, y);
  });
}

void conv2d_im2col_relu_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                            const Tensor& residual, Tensor& y) {
  with_float_type(x.dtype(), "conv2d_relu", [&](auto tag) {
    using T = decltype(tag);
    const TileEpilogue<T> epilogue{.bias = bias.defined() ? bias.data<T>() : nullptr,
                                   .relu = true,
                                   .residual = residual.defined() ? residual.data<T>() : nullptr};
    fwd_impl<T>(x, w, geom_of(x, w, p, sizeof(T)), epilogue, y);
  });
}

void conv2d_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor* grad_x,
                Tensor* grad_w, Tensor* grad_b) {
  with_float_type(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    // The direct grouped kernels leave grad_b to bwd_impl, which then returns before any column matrix.
    bool direct = grouped_direct_applies(w, p);
    // oneDNN computes grad_x and grad_w, Winograd grad_x; im2col then computes only what is left (grad_b
    // always: a sum whose order is fixed here, whatever the algorithm).
    bool onednn = !direct && onednn_applies(x, w, p);
    if (onednn) conv2d_onednn_bwd(x, w, grad_y, p, grad_x, grad_w);
    bool winograd_x = !direct && !onednn && grad_x && winograd_applies_to_input_grad(x, w, p);
    if (winograd_x) conv2d_winograd_input_grad(w, grad_y, p, *grad_x);
    bwd_impl<T>(x, w, grad_y, geom_of(x, w, p, sizeof(T)), direct || onednn || winograd_x ? nullptr : grad_x,
                direct || onednn ? nullptr : grad_w, grad_b);
    if (direct) conv2d_grouped_bwd(x, w, grad_y, p, grad_x, grad_w);
  });
}

}  // namespace pleura::cpu
