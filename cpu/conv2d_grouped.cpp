// Direct CPU kernels for grouped convolutions (cpu/conv2d_grouped.h), dispatched from cpu/conv2d.cpp; tests in
// tests/ops/test_conv2d.cpp, timing in bench/bench_conv_cpu.cpp.
//
// With 4..32 channels per group (ResNeXt), im2col + GEMM writes R*S copies of the input and each column element
// then serves only K/groups multiply-adds. Here the forward pass and grad_x are both one "correlation" of a few
// packed, zero-padded source rows with a small weight table, computed in register tiles of 4 output channels x
// 16 contiguous output columns; grad_w is a dot product of grad_y rows with the same packed rows, in register
// tiles of 4 output channels x 3 kernel columns.
//
// Determinism: every element of y and grad_x is written by one task (sample, group, band of rows), summed over
// (input channel, r, s) in that order; grad_w is one task per group, summed over (n, band, p, q) in that order
// into 8 lane partials (column q to lane q % 8; with stride 1, element f of the band's flat rows of L columns to
// lane f % 8), added in lane order. Bands depend on the shapes only, so the bits never depend on the thread count.
// Vectors have 8 lanes on every ISA (GCC vector extensions). On x86-64 with AVX2 and FMA the task bodies are
// compiled for those and a * b + c becomes one FMA: the bits differ from the baseline build's (separate
// roundings), as OpenBLAS's do between machines, but not between runs or thread counts on one machine.
#include "cpu/conv2d_grouped.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/float_types.h"
#include "engine/parallel.h"

// Let the compiler fuse a * b + c into one FMA where the target has it (the AVX2 + FMA build below).
#pragma GCC optimize("fp-contract=fast")

namespace pleura::cpu {

namespace {

constexpr int kLanes = 8;                    // lanes of every vector
constexpr int kStripVecs = 2;                // vectors per output strip
constexpr int kStrip = kLanes * kStripVecs;  // output columns per register tile
constexpr int kTileK = 4;                    // output channels per register tile (8 accumulators of 8 lanes)
constexpr int kTileS = 3;                    // kernel columns per grad_w tile (4 x 3 accumulators)
// Packed source rows per task: stays in L2 while the tiles walk over it.
constexpr int64_t kPackBytes = int64_t{256} << 10;

template <class T>
struct VecOf {
  typedef T type __attribute__((vector_size(kLanes * sizeof(T))));
  // The same vector at any address: unaligned loads and stores without memcpy (which GCC would route through
  // the stack, taking the accumulators out of registers).
  typedef T unaligned __attribute__((vector_size(kLanes * sizeof(T)), aligned(sizeof(T)), may_alias));
};
template <class T>
using Vec = typename VecOf<T>::type;

// Vectors never cross a function boundary by value (their ABI differs by ISA): helpers are always inlined.
template <class T>
[[gnu::always_inline]] inline void vload(Vec<T>& v, const T* p) {
  v = *reinterpret_cast<const typename VecOf<T>::unaligned*>(p);
}
template <class T>
[[gnu::always_inline]] inline void vstore(T* p, const Vec<T>& v) {
  *reinterpret_cast<typename VecOf<T>::unaligned*>(p) = v;
}

int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }  // b > 0
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// One group's correlation:
//   out[o][h][v] = sum over i < in_ch, r < R, s < S of wt[((i * R + r) * S + s) * out_ch + o]
//                  * src(i, h * sh + r * dh + off_h, v * sw + s * dw + off_w),
// src(i, a, b) = plane i at (a / up_h, b / up_w) where both divide exactly and land inside [0, Hs) x [0, Ws),
// else 0. The forward pass: src = x, up = 1, off = -pad. grad_x: src = grad_y, up = the conv's stride (the
// zeros between a strided output's rows and columns), stride 1, flipped and transposed weights.
struct Corr {
  int64_t in_ch, out_ch, Hs, Ws, Ho, Wo, R, S, sh, sw, dh, dw, off_h, off_w, up_h, up_w;
  // Derived by make_corr:
  int64_t omax = 0;  // largest column offset of a tap inside its phase row: (S - 1) * dw / sw
  int64_t L = 0;     // packed row length: whole strips of output columns plus omax
  int64_t band = 0;  // output rows per task
  int64_t bands = 0;
};

Corr make_corr(Corr c, size_t elem) {
  c.omax = (c.S - 1) * c.dw / c.sw;
  c.L = round_up(c.Wo, kStrip) + c.omax;
  int64_t row_bytes = c.sw * c.in_ch * c.L * static_cast<int64_t>(elem);
  int64_t max_rows = std::max<int64_t>(1, kPackBytes / row_bytes);
  c.band = std::clamp<int64_t>((max_rows - (c.R - 1) * c.dh - 1) / c.sh + 1, 1, c.Ho);
  c.bands = (c.Ho + c.band - 1) / c.band;
  return c;
}

// Source rows read by output rows [h0, h0 + rows_out).
int64_t rows_in(const Corr& g, int64_t rows_out) { return (rows_out - 1) * g.sh + (g.R - 1) * g.dh + 1; }

// The packed rows of output rows [h0, h0 + nrows_out): buf[((phase * in_ch + i) * nrows + row) * L + j] =
// src(i, h0 * sh + off_h + row, j * sw + phase + off_w), so tap s of output column v reads phase (s dw) % sw at
// j = v + (s dw) / sw: contiguous in v for any stride. live[row] is 0 where the row is all padding (its taps
// are skipped). Per-thread buffers, grown to the largest band seen.
template <class T>
struct Packed {
  std::vector<T> buf;
  std::vector<unsigned char> live;
  std::vector<int64_t> soff;  // offset of tap s: phase block + column offset
  int64_t nrows = 0;
  std::vector<T> gy;  // grad_w, stride 1: the band's grad_y rows with row stride L, zero past column Wo
};

// dst[0, n) = src[0, n), in vectors while they last (inlined into the AVX2 build too).
template <class T>
[[gnu::always_inline]] inline void copy_run(T* dst, const T* src, int64_t n) {
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    Vec<T> v;
    vload(v, src + j);
    vstore(dst + j, v);
  }
  for (; j < n; ++j) dst[j] = src[j];
}

template <class T>
[[gnu::always_inline]] inline void pack_rows(const Corr& g, const T* src, int64_t h0, int64_t nrows_out,
                                             Packed<T>& pk) {
  pk.nrows = rows_in(g, nrows_out);
  size_t need = static_cast<size_t>(g.sw * g.in_ch * pk.nrows * g.L);
  // Zeros past the end: grad_w's flat dot products read up to omax elements past the last row (against zeros of
  // grad_y), so they must be finite, whatever an earlier call left there.
  size_t slack = static_cast<size_t>(g.omax + kLanes);
  if (pk.buf.size() < need + slack) pk.buf.resize(need + slack);
  std::fill(pk.buf.data() + need, pk.buf.data() + need + slack, T(0));
  pk.live.resize(static_cast<size_t>(pk.nrows));
  pk.soff.resize(static_cast<size_t>(g.S));
  for (int64_t s = 0; s < g.S; ++s) pk.soff[s] = (s * g.dw % g.sw) * g.in_ch * pk.nrows * g.L + s * g.dw / g.sw;
  int64_t a0 = h0 * g.sh + g.off_h;
  for (int64_t row = 0; row < pk.nrows; ++row) {
    int64_t a = a0 + row;
    pk.live[row] = a >= 0 && a % g.up_h == 0 && a / g.up_h < g.Hs;
  }
  for (int64_t phase = 0; phase < g.sw; ++phase) {
    int64_t base = phase + g.off_w;  // source column (before up_w) of j = 0
    // Columns [jlo, jhi) of this phase read the source (every up_w-th of them when up_w > 1); the rest are 0.
    int64_t jlo, jhi;
    if (g.up_w == 1) {
      jlo = std::max<int64_t>(0, ceil_div(-base, g.sw));
      jhi = std::min<int64_t>(g.L, floor_div(g.Ws - 1 - base, g.sw) + 1);
    } else {
      // sw == 1 here (grad_x): the first j with j + base >= 0 divisible by up_w, up to the last source column.
      jlo = std::max<int64_t>(0, -base);
      int64_t rem = (jlo + base) % g.up_w;
      if (rem) jlo += g.up_w - rem;
      jhi = std::min<int64_t>(g.L, g.Ws * g.up_w - base);
    }
    jlo = std::min(jlo, g.L);
    jhi = std::max(jhi, jlo);
    for (int64_t i = 0; i < g.in_ch; ++i) {
      for (int64_t row = 0; row < pk.nrows; ++row) {
        T* dst = pk.buf.data() + ((phase * g.in_ch + i) * pk.nrows + row) * g.L;
        if (!pk.live[row]) {
          std::fill(dst, dst + g.L, T(0));
          continue;
        }
        const T* s = src + (i * g.Hs + (a0 + row) / g.up_h) * g.Ws;
        std::fill(dst, dst + jlo, T(0));
        if (g.up_w == 1 && g.sw == 1) {
          copy_run(dst + jlo, s + jlo + base, jhi - jlo);
        } else if (g.up_w == 1) {
          for (int64_t j = jlo; j < jhi; ++j) dst[j] = s[j * g.sw + base];
        } else {
          std::fill(dst + jlo, dst + jhi, T(0));
          for (int64_t j = jlo; j < jhi; j += g.up_w) dst[j] = s[(j + base) / g.up_w];
        }
        std::fill(dst + jhi, dst + g.L, T(0));
      }
    }
  }
}

// The taps of an output row that read a live source row, in (input channel, r, s) order: where tap t reads,
// relative to the row's first packed row (hrow * sh rows in), and its weights w[t * out_ch + o] (copied, so the
// tile walks them contiguously). Rows whose kernel rows are live in the same pattern share the list (all rows
// but a few at the edges).
template <class T>
struct RowTaps {
  std::vector<int64_t> off;
  std::vector<T> w;
  int64_t count = 0;
  uint64_t mask = ~uint64_t{0};  // live kernel rows r (bit r) of the current list; all-ones: none built
};

template <class T>
[[gnu::always_inline]] inline void row_taps(const Corr& g, const Packed<T>& pk, int64_t hrow, const T* wt,
                                            RowTaps<T>& taps) {
  uint64_t mask = 0;
  for (int64_t r = 0; r < g.R; ++r) {
    if (pk.live[hrow * g.sh + r * g.dh]) mask |= uint64_t{1} << (r & 63);
  }
  // Kernels of 64 rows or more (never met) rebuild the list for every row.
  if (g.R < 64 && mask == taps.mask) return;
  size_t most = static_cast<size_t>(g.in_ch * g.R * g.S);
  if (taps.off.size() < most) {
    taps.off.resize(most);
    taps.w.resize(most * static_cast<size_t>(g.out_ch));
  }
  taps.mask = g.R < 64 ? mask : ~uint64_t{0};
  taps.count = 0;
  for (int64_t i = 0; i < g.in_ch; ++i) {
    for (int64_t r = 0; r < g.R; ++r) {
      if (!pk.live[hrow * g.sh + r * g.dh]) continue;
      for (int64_t s = 0; s < g.S; ++s) {
        taps.off[taps.count] = (i * pk.nrows + r * g.dh) * g.L + pk.soff[s];
        const T* w = wt + ((i * g.R + r) * g.S + s) * g.out_ch;
        std::copy(w, w + g.out_ch, taps.w.begin() + static_cast<std::ptrdiff_t>(taps.count * g.out_ch));
        ++taps.count;
      }
    }
  }
}

// KB output channels (o0..) x kStrip columns (q0..) of one output row: one flat loop over the row's taps, the
// accumulators in registers.
template <class T, int KB>
[[gnu::always_inline]] inline void corr_tile(const Corr& g, const T* buf, const RowTaps<T>& taps, int64_t o0,
                                             int64_t q0, const T* bias, T* const* dst) {
  Vec<T> acc[KB][kStripVecs];
  for (int kb = 0; kb < KB; ++kb)
    for (int v = 0; v < kStripVecs; ++v) acc[kb][v] = Vec<T>{};
  const int64_t* off = taps.off.data();
  const T* wp = taps.w.data() + o0;
  const T* src = buf + q0;  // buf: the packed rows from the output row's first one
  for (int64_t t = 0; t < taps.count; ++t, wp += g.out_ch) {
    Vec<T> xv[kStripVecs];
    for (int v = 0; v < kStripVecs; ++v) vload(xv[v], src + off[t] + v * kLanes);
    for (int kb = 0; kb < KB; ++kb) {
      const T wv = wp[kb];
      for (int v = 0; v < kStripVecs; ++v) acc[kb][v] += xv[v] * wv;
    }
  }
  if (bias) {
    for (int kb = 0; kb < KB; ++kb)
      for (int v = 0; v < kStripVecs; ++v) acc[kb][v] += bias[o0 + kb];
  }
  int64_t count = std::min<int64_t>(kStrip, g.Wo - q0);
  if (count == kStrip) {
    for (int kb = 0; kb < KB; ++kb)
      for (int v = 0; v < kStripVecs; ++v) vstore(dst[kb] + q0 + v * kLanes, acc[kb][v]);
    return;
  }
  for (int kb = 0; kb < KB; ++kb) {
    T tmp[kStrip];
    for (int v = 0; v < kStripVecs; ++v) vstore(tmp + v * kLanes, acc[kb][v]);
    for (int64_t j = 0; j < count; ++j) dst[kb][q0 + j] = tmp[j];
  }
}

template <class T, int KB>
[[gnu::always_inline]] inline void corr_row(const Corr& g, const T* buf, const RowTaps<T>& taps, int64_t o0,
                                            const T* bias, T* const* dst) {
  for (int64_t q0 = 0; q0 < g.Wo; q0 += kStrip) corr_tile<T, KB>(g, buf, taps, o0, q0, bias, dst);
}

// One task: output rows of band `band` of one group. src: the group's source planes [in_ch, Hs, Ws]; wt: its
// weight table; bias: its out_ch biases or null; out: its output planes [out_ch, Ho, Wo].
template <class T>
[[gnu::always_inline]] inline void corr_task(const Corr& g, const T* src, const T* wt, const T* bias, T* out,
                                             int64_t band, Packed<T>& pk, RowTaps<T>& taps) {
  int64_t h0 = band * g.band, h1 = std::min(g.Ho, h0 + g.band);
  pack_rows(g, src, h0, h1 - h0, pk);
  taps.mask = ~uint64_t{0};  // a new packing: rebuild the tap list
  for (int64_t h = h0; h < h1; ++h) {
    row_taps(g, pk, h - h0, wt, taps);
    for (int64_t o0 = 0; o0 < g.out_ch; o0 += kTileK) {
      T* dst[kTileK] = {};
      int64_t kb = std::min<int64_t>(kTileK, g.out_ch - o0);
      for (int64_t j = 0; j < kb; ++j) dst[j] = out + ((o0 + j) * g.Ho + h) * g.Wo;
      const T* buf = pk.buf.data() + (h - h0) * g.sh * g.L;
      switch (kb) {
        case 4: corr_row<T, 4>(g, buf, taps, o0, bias, dst); break;
        case 3: corr_row<T, 3>(g, buf, taps, o0, bias, dst); break;
        case 2: corr_row<T, 2>(g, buf, taps, o0, bias, dst); break;
        default: corr_row<T, 1>(g, buf, taps, o0, bias, dst); break;
      }
    }
  }
}

// grad_w partial sums of KB output channels (k0..) x NS kernel columns (s0..) of input channel c and kernel row
// r, over the output rows [p0, p1) of a band: acc[((k * Cg + c) * R + r) * S + s][lane] += grad_y[k, p, q] *
// x-tap(c, r, s)[p, q], column q to lane q % kLanes. The accumulators stay in registers for the whole band;
// each one still sums its terms in (n, p, q) order. A short last vector is zero-padded on both factors.
template <class T, int KB, int NS>
[[gnu::always_inline]] inline void dot_band(const Corr& g, const Packed<T>& pk, const T* gy, int64_t p0, int64_t p1,
                                            int64_t c, int64_t r, int64_t k0, int64_t s0, T* acc_mem) {
  const int64_t Q = g.Wo, PQ = g.Ho * g.Wo, Q8 = Q / kLanes * kLanes;
  T* at[KB][NS];
  Vec<T> acc[KB][NS];
  for (int kb = 0; kb < KB; ++kb)
    for (int ns = 0; ns < NS; ++ns) {
      at[kb][ns] = acc_mem + (((k0 + kb) * g.in_ch + c) * g.R * g.S + r * g.S + s0 + ns) * kLanes;
      vload(acc[kb][ns], at[kb][ns]);
    }
  for (int64_t p = p0; p < p1; ++p) {
    int64_t row = (p - p0) * g.sh + r * g.dh;
    if (!pk.live[row]) continue;
    const T* xr[NS];
    const T* gr[KB];
    for (int ns = 0; ns < NS; ++ns) xr[ns] = pk.buf.data() + (c * pk.nrows + row) * g.L + pk.soff[s0 + ns];
    for (int kb = 0; kb < KB; ++kb) gr[kb] = gy + (k0 + kb) * PQ + p * Q;
    for (int64_t q = 0; q < Q8; q += kLanes) {
      Vec<T> gv[KB], xv[NS];
      for (int kb = 0; kb < KB; ++kb) vload(gv[kb], gr[kb] + q);
      for (int ns = 0; ns < NS; ++ns) vload(xv[ns], xr[ns] + q);
      for (int kb = 0; kb < KB; ++kb)
        for (int ns = 0; ns < NS; ++ns) acc[kb][ns] += gv[kb] * xv[ns];
    }
    if (Q8 < Q) {
      Vec<T> gv[KB], xv[NS];
      T tmp[kLanes];
      for (int kb = 0; kb < KB; ++kb) {
        for (int64_t j = 0; j < kLanes; ++j) tmp[j] = Q8 + j < Q ? gr[kb][Q8 + j] : T(0);
        vload(gv[kb], tmp);
      }
      for (int ns = 0; ns < NS; ++ns) {
        for (int64_t j = 0; j < kLanes; ++j) tmp[j] = Q8 + j < Q ? xr[ns][Q8 + j] : T(0);
        vload(xv[ns], tmp);
      }
      for (int kb = 0; kb < KB; ++kb)
        for (int ns = 0; ns < NS; ++ns) acc[kb][ns] += gv[kb] * xv[ns];
    }
  }
  for (int kb = 0; kb < KB; ++kb)
    for (int ns = 0; ns < NS; ++ns) vstore(at[kb][ns], acc[kb][ns]);
}

template <class T, int KB>
[[gnu::always_inline]] inline void dot_band_s(const Corr& g, const Packed<T>& pk, const T* gy, int64_t p0, int64_t p1,
                                              int64_t c, int64_t r, int64_t k0, int64_t s0, int64_t ns, T* acc) {
  switch (ns) {
    case 3: dot_band<T, KB, 3>(g, pk, gy, p0, p1, c, r, k0, s0, acc); break;
    case 2: dot_band<T, KB, 2>(g, pk, gy, p0, p1, c, r, k0, s0, acc); break;
    default: dot_band<T, KB, 1>(g, pk, gy, p0, p1, c, r, k0, s0, acc); break;
  }
}

// Stride 1: the rows of a band are consecutive in the packed x (row stride L) and in the packed grad_y (the same
// stride), so each accumulator runs over the whole band as one flat dot product of length F = rows * L, flat
// element f to lane f % kLanes (grad_y's zero columns past Wo cancel the extra x columns). gy: KB packed grad_y
// rows; xr: NS packed x-tap rows; a short last vector is zero-padded on both factors.
template <class T, int KB, int NS>
[[gnu::always_inline]] inline void dot_flat(const T* const* gy, const T* const* xr, int64_t F, T* const* at) {
  Vec<T> acc[KB][NS];
  for (int kb = 0; kb < KB; ++kb)
    for (int ns = 0; ns < NS; ++ns) vload(acc[kb][ns], at[kb * NS + ns]);
  const int64_t F8 = F / kLanes * kLanes;
  for (int64_t f = 0; f < F8; f += kLanes) {
    Vec<T> xv[NS];
    for (int ns = 0; ns < NS; ++ns) vload(xv[ns], xr[ns] + f);
    for (int kb = 0; kb < KB; ++kb) {
      Vec<T> gv;
      vload(gv, gy[kb] + f);
      for (int ns = 0; ns < NS; ++ns) acc[kb][ns] += gv * xv[ns];
    }
  }
  if (F8 < F) {
    Vec<T> gv[KB], xv[NS];
    T tmp[kLanes];
    for (int kb = 0; kb < KB; ++kb) {
      for (int64_t j = 0; j < kLanes; ++j) tmp[j] = F8 + j < F ? gy[kb][F8 + j] : T(0);
      vload(gv[kb], tmp);
    }
    for (int ns = 0; ns < NS; ++ns) {
      for (int64_t j = 0; j < kLanes; ++j) tmp[j] = F8 + j < F ? xr[ns][F8 + j] : T(0);
      vload(xv[ns], tmp);
    }
    for (int kb = 0; kb < KB; ++kb)
      for (int ns = 0; ns < NS; ++ns) acc[kb][ns] += gv[kb] * xv[ns];
  }
  for (int kb = 0; kb < KB; ++kb)
    for (int ns = 0; ns < NS; ++ns) vstore(at[kb * NS + ns], acc[kb][ns]);
}

template <class T, int KB>
[[gnu::always_inline]] inline void dot_flat_s(const T* const* gy, const T* const* xr, int64_t ns, int64_t F,
                                              T* const* at) {
  switch (ns) {
    case 3: dot_flat<T, KB, 3>(gy, xr, F, at); break;
    case 2: dot_flat<T, KB, 2>(gy, xr, F, at); break;
    default: dot_flat<T, KB, 1>(gy, xr, F, at); break;
  }
}

// grad_w of one group: samples and bands in order. g: the forward correlation (src = x); x: the group's planes
// of sample 0 (x_image apart); gy: its grad_y planes [Kg, P, Q] of sample 0 (gy_image apart); acc:
// Kg*Cg*R*S*kLanes partial sums.
template <class T>
[[gnu::always_inline]] inline void grad_w_task(const Corr& g, const T* x, const T* gy, int64_t N, int64_t x_image,
                                               int64_t gy_image, T* acc, Packed<T>& pk) {
  const int64_t Q = g.Wo, PQ = g.Ho * g.Wo;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t band = 0; band < g.bands; ++band) {
      int64_t p0 = band * g.band, p1 = std::min(g.Ho, p0 + g.band), rows = p1 - p0;
      pack_rows(g, x + n * x_image, p0, rows, pk);
      const T* gy_n = gy + n * gy_image;
      if (g.sh == 1) {
        size_t need = static_cast<size_t>(g.out_ch * rows * g.L);
        if (pk.gy.size() < need) pk.gy.resize(need);
        for (int64_t k = 0; k < g.out_ch; ++k) {
          for (int64_t p = p0; p < p1; ++p) {
            T* dst = pk.gy.data() + (k * rows + p - p0) * g.L;
            copy_run(dst, gy_n + k * PQ + p * Q, Q);
            std::fill(dst + Q, dst + g.L, T(0));
          }
        }
      }
      for (int64_t c = 0; c < g.in_ch; ++c) {
        for (int64_t r = 0; r < g.R; ++r) {
          for (int64_t k0 = 0; k0 < g.out_ch; k0 += kTileK) {
            int64_t kb = std::min<int64_t>(kTileK, g.out_ch - k0);
            for (int64_t s0 = 0; s0 < g.S; s0 += kTileS) {
              int64_t ns = std::min<int64_t>(kTileS, g.S - s0);
              if (g.sh != 1) {
                switch (kb) {
                  case 4: dot_band_s<T, 4>(g, pk, gy_n, p0, p1, c, r, k0, s0, ns, acc); break;
                  case 3: dot_band_s<T, 3>(g, pk, gy_n, p0, p1, c, r, k0, s0, ns, acc); break;
                  case 2: dot_band_s<T, 2>(g, pk, gy_n, p0, p1, c, r, k0, s0, ns, acc); break;
                  default: dot_band_s<T, 1>(g, pk, gy_n, p0, p1, c, r, k0, s0, ns, acc); break;
                }
                continue;
              }
              const T* gyr[kTileK] = {};
              const T* xr[kTileS] = {};
              T* at[kTileK * kTileS] = {};
              for (int64_t a = 0; a < kb; ++a) gyr[a] = pk.gy.data() + (k0 + a) * rows * g.L;
              const T* x_cr = pk.buf.data() + (c * pk.nrows + r * g.dh) * g.L;  // first row of tap row r
              for (int64_t j = 0; j < ns; ++j) xr[j] = x_cr + pk.soff[s0 + j];
              for (int64_t a = 0; a < kb; ++a)
                for (int64_t j = 0; j < ns; ++j)
                  at[a * ns + j] = acc + (((k0 + a) * g.in_ch + c) * g.R * g.S + r * g.S + s0 + j) * kLanes;
              int64_t F = rows * g.L;
              switch (kb) {
                case 4: dot_flat_s<T, 4>(gyr, xr, ns, F, at); break;
                case 3: dot_flat_s<T, 3>(gyr, xr, ns, F, at); break;
                case 2: dot_flat_s<T, 2>(gyr, xr, ns, F, at); break;
                default: dot_flat_s<T, 1>(gyr, xr, ns, F, at); break;
              }
            }
          }
        }
      }
    }
  }
}

// The same task bodies compiled twice: for the baseline ISA, and (x86-64) for AVX2 + FMA, chosen at run time
// (the vectors are the same 8 lanes; with FMA the roundings differ, see the file comment).
template <class T>
void corr_task_base(const Corr& g, const T* src, const T* wt, const T* bias, T* out, int64_t band, Packed<T>& pk,
                    RowTaps<T>& taps) {
  corr_task(g, src, wt, bias, out, band, pk, taps);
}
template <class T>
void grad_w_task_base(const Corr& g, const T* x, const T* gy, int64_t N, int64_t xi, int64_t gi, T* acc,
                      Packed<T>& pk) {
  grad_w_task(g, x, gy, N, xi, gi, acc, pk);
}
#if defined(__x86_64__)
template <class T>
__attribute__((target("avx2,fma"))) void corr_task_avx2(const Corr& g, const T* src, const T* wt, const T* bias,
                                                        T* out, int64_t band, Packed<T>& pk, RowTaps<T>& taps) {
  corr_task(g, src, wt, bias, out, band, pk, taps);
}
template <class T>
__attribute__((target("avx2,fma"))) void grad_w_task_avx2(const Corr& g, const T* x, const T* gy, int64_t N,
                                                          int64_t xi, int64_t gi, T* acc, Packed<T>& pk) {
  grad_w_task(g, x, gy, N, xi, gi, acc, pk);
}
bool has_avx2_fma() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  }();
  return yes;
}
#endif

template <class T>
void run_corr_task(const Corr& g, const T* src, const T* wt, const T* bias, T* out, int64_t band) {
  thread_local Packed<T> pk;
  thread_local RowTaps<T> taps;
#if defined(__x86_64__)
  if (has_avx2_fma()) return corr_task_avx2(g, src, wt, bias, out, band, pk, taps);
#endif
  corr_task_base(g, src, wt, bias, out, band, pk, taps);
}

template <class T>
void run_grad_w_task(const Corr& g, const T* x, const T* gy, int64_t N, int64_t xi, int64_t gi, T* acc) {
  thread_local Packed<T> pk;
#if defined(__x86_64__)
  if (has_avx2_fma()) return grad_w_task_avx2(g, x, gy, N, xi, gi, acc, pk);
#endif
  grad_w_task_base(g, x, gy, N, xi, gi, acc, pk);
}

struct Dims {
  int64_t N, C, H, W, K, R, S, P, Q, G, Cg, Kg;
};
Dims dims_of(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  Dims d{};
  d.N = x.size(0), d.C = x.size(1), d.H = x.size(2), d.W = x.size(3);
  d.K = w.size(0), d.R = w.size(2), d.S = w.size(3);
  d.P = conv2d_output_size(d.H, d.R, p.stride_h, p.pad_h, p.dilation_h);
  d.Q = conv2d_output_size(d.W, d.S, p.stride_w, p.pad_w, p.dilation_w);
  d.G = p.groups, d.Cg = d.C / d.G, d.Kg = d.K / d.G;
  return d;
}

// The forward correlation of one group: source x, weight table wt[c][r][s][k].
Corr forward_corr(const Dims& d, const Conv2dParams& p, size_t elem) {
  return make_corr({.in_ch = d.Cg, .out_ch = d.Kg, .Hs = d.H, .Ws = d.W, .Ho = d.P, .Wo = d.Q, .R = d.R, .S = d.S,
                    .sh = p.stride_h, .sw = p.stride_w, .dh = p.dilation_h, .dw = p.dilation_w, .off_h = -p.pad_h,
                    .off_w = -p.pad_w, .up_h = 1, .up_w = 1},
                   elem);
}

template <class T>
void fwd_impl(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  Dims d = dims_of(x, w, p);
  Corr g = forward_corr(d, p, sizeof(T));
  const T* pw = w.data<T>();
  const int64_t RS = d.R * d.S, table = d.Cg * RS * d.Kg;
  std::vector<T> wt(static_cast<size_t>(d.G * table));
  for (int64_t gr = 0; gr < d.G; ++gr)
    for (int64_t k = 0; k < d.Kg; ++k)
      for (int64_t c = 0; c < d.Cg; ++c)
        for (int64_t t = 0; t < RS; ++t)
          wt[gr * table + (c * RS + t) * d.Kg + k] = pw[((gr * d.Kg + k) * d.Cg + c) * RS + t];
  const T* px = x.data<T>();
  const T* pb = bias.defined() ? bias.data<T>() : nullptr;
  T* py = y.data<T>();
  parallel_for(d.N * d.G * g.bands, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t n = t / (d.G * g.bands), gr = t / g.bands % d.G, band = t % g.bands;
      run_corr_task<T>(g, px + (n * d.C + gr * d.Cg) * d.H * d.W, wt.data() + gr * table,
                       pb ? pb + gr * d.Kg : nullptr, py + (n * d.K + gr * d.Kg) * d.P * d.Q, band);
    }
  });
}

template <class T>
void bwd_impl(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor* grad_x,
              Tensor* grad_w) {
  Dims d = dims_of(x, w, p);
  const T* px = x.data<T>();
  const T* pw = w.data<T>();
  const T* pgy = grad_y.data<T>();
  const int64_t RS = d.R * d.S, table = d.Cg * RS * d.Kg;
  if (grad_x) {
    // grad_x[c, h, v] = sum over k, r', s' of w[k, c, R-1-r', S-1-s'] * gy_up(k, h + r' dh + ph - (R-1) dh, ...),
    // gy_up = grad_y with (stride - 1) zeros between its rows and columns: a stride-1 correlation of grad_y.
    Corr g = make_corr({.in_ch = d.Kg, .out_ch = d.Cg, .Hs = d.P, .Ws = d.Q, .Ho = d.H, .Wo = d.W, .R = d.R,
                        .S = d.S, .sh = 1, .sw = 1, .dh = p.dilation_h, .dw = p.dilation_w,
                        .off_h = p.pad_h - (d.R - 1) * p.dilation_h, .off_w = p.pad_w - (d.S - 1) * p.dilation_w,
                        .up_h = p.stride_h, .up_w = p.stride_w},
                       sizeof(T));
    std::vector<T> wt(static_cast<size_t>(d.G * table));  // [g][k][r'][s'][c]
    for (int64_t gr = 0; gr < d.G; ++gr)
      for (int64_t k = 0; k < d.Kg; ++k)
        for (int64_t c = 0; c < d.Cg; ++c)
          for (int64_t t = 0; t < RS; ++t)
            wt[gr * table + (k * RS + (RS - 1 - t)) * d.Cg + c] = pw[((gr * d.Kg + k) * d.Cg + c) * RS + t];
    T* pgx = grad_x->data<T>();
    parallel_for(d.N * d.G * g.bands, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        int64_t n = t / (d.G * g.bands), gr = t / g.bands % d.G, band = t % g.bands;
        run_corr_task<T>(g, pgy + (n * d.K + gr * d.Kg) * d.P * d.Q, wt.data() + gr * table, nullptr,
                         pgx + (n * d.C + gr * d.Cg) * d.H * d.W, band);
      }
    });
  }
  if (grad_w) {
    Corr g = forward_corr(d, p, sizeof(T));
    T* pgw = grad_w->data<T>();
    const int64_t lanes_per_group = d.Kg * d.Cg * RS * kLanes;
    parallel_for(d.G, 1, [&](int64_t g0, int64_t g1) {
      std::vector<T> acc(static_cast<size_t>(lanes_per_group));
      for (int64_t gr = g0; gr < g1; ++gr) {
        std::fill(acc.begin(), acc.end(), T(0));
        run_grad_w_task<T>(g, px + gr * d.Cg * d.H * d.W, pgy + gr * d.Kg * d.P * d.Q, d.N, d.C * d.H * d.W,
                           d.K * d.P * d.Q, acc.data());
        // acc is laid out as grad_w's group block [Kg, Cg, R, S], times kLanes: add the lanes in order.
        T* out = pgw + gr * d.Kg * d.Cg * RS;
        for (int64_t e = 0; e < d.Kg * d.Cg * RS; ++e) {
          T s = acc[static_cast<size_t>(e * kLanes)];
          for (int l = 1; l < kLanes; ++l) s += acc[static_cast<size_t>(e * kLanes + l)];
          out[e] = s;
        }
      }
    });
  }
}

}  // namespace

// Measured on the development machine (2-core EPYC with AVX2 and AVX-512, one thread, CPU time, float32, 3x3 pad 1,
// K = C, batch 2), direct kernels over im2col + OpenBLAS GEMM, forward / grad_x / grad_w:
//   4 per group (C 128 @64x64):   1.8x / 2.9x / 1.9x      8 per group (C 256 @64):   1.8x / 2.6x / 1.9x
//   16 per group (C 512 @32):     1.5x / 2.1x / 1.6x      32 per group (C 1024 @16): 1.4x / 1.4x / 1.4x
//   32 per group, groups 2 (@32): 1.6x / 1.7x / 1.8x      stride 2, 4..16 per group: 1.4x to 3.0x
//   64 per group (C 2048 @16):    1.1x / 1.0x / 0.9x      64 per group, groups 4:    0.9x / 1.0x / 1.0x
// so the direct path takes every grouped convolution with at most 32 input channels per group.
bool grouped_direct_applies(const Tensor& w, const Conv2dParams& p) { return p.groups > 1 && w.size(1) <= 32; }

void conv2d_grouped_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  with_float_type(x.dtype(), "conv2d", [&](auto tag) { fwd_impl<decltype(tag)>(x, w, bias, p, y); });
}

void conv2d_grouped_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p,
                        Tensor* grad_x, Tensor* grad_w) {
  if (!grad_x && !grad_w) return;
  with_float_type(x.dtype(), "conv2d", [&](auto tag) { bwd_impl<decltype(tag)>(x, w, grad_y, p, grad_x, grad_w); });
}

}  // namespace pleura::cpu
