// CPU kernels of upsample2x (engine/ops/upsample.h); twin: cuda/upsample.cu.
// Bilinear weights are PyTorch's align_corners=False rule for scale 2, computed per row and per column
// once; the backward gathers, for each input element, from the (at most 4 x 4) output positions that
// read it, accumulating in double, separably (across the columns, then down the rows). One (n, c) plane
// per task; the planes of the larger tensor may be a channel range of it (upsample2x_of_concat).
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/float_types.h"
#include "engine/parallel.h"
#include "engine/ops/upsample.h"

namespace pleura::cpu {

namespace {

// The two input taps of output index dst along a dim of size in, and their weights.
template <class T>
struct Tap {
  int64_t i0, i1;
  T l0, l1;
};

template <class T>
Tap<T> tap_of(int64_t dst, int64_t in) {
  // PyTorch (align_corners=False, scale 1/2): src = (dst + 0.5) * 0.5 - 0.5, clamped below at 0. All
  // quantities are multiples of 0.25, so exact in float.
  T src = (static_cast<T>(dst) + T(0.5)) * T(0.5) - T(0.5);
  if (src < T(0)) src = T(0);
  const int64_t i0 = static_cast<int64_t>(src);
  const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
  const T l1 = src - static_cast<T>(i0);
  return {i0, i1, T(1) - l1, l1};
}

template <class T>
std::vector<Tap<T>> taps_of(int64_t in) {
  std::vector<Tap<T>> taps(static_cast<size_t>(2 * in));
  for (int64_t d = 0; d < 2 * in; ++d) taps[d] = tap_of<T>(d, in);
  return taps;
}

// For input index i: the output indices that read it (2i-1 .. 2i+2, clipped) and the total weight
// (both taps may point at i on the borders).
template <class T>
struct Readers {
  int64_t first = 0, count = 0;
  T weight[4] = {};
};

template <class T>
std::vector<Readers<T>> readers_of(const std::vector<Tap<T>>& taps, int64_t in) {
  std::vector<Readers<T>> out(static_cast<size_t>(in));
  for (int64_t i = 0; i < in; ++i) {
    Readers<T>& r = out[i];
    r.first = std::max<int64_t>(2 * i - 1, 0);
    const int64_t last = std::min<int64_t>(2 * i + 2, 2 * in - 1);
    for (int64_t d = r.first; d <= last; ++d) {
      const Tap<T>& t = taps[d];
      r.weight[r.count++] = (t.i0 == i ? t.l0 : T(0)) + (t.i1 == i ? t.l1 : T(0));
    }
  }
  return out;
}

// Where plane pl = n * C + c of the smaller tensor (x, grad_x) lies in the larger one (y, grad_y), whose
// channels [offset, offset + C) are x's: plane n * big_C + offset + c.
struct PlaneMap {
  int64_t C, big_C, offset;
  int64_t big_plane(int64_t pl) const { return (pl / C) * big_C + offset + pl % C; }
};

template <class T>
void bilinear_fwd(const T* x, T* y, int64_t planes, int64_t H, int64_t W, PlaneMap map) {
  const auto ty = taps_of<T>(H), tx = taps_of<T>(W);
  const int64_t OH = 2 * H, OW = 2 * W;
  parallel_for(planes, 1, [&](int64_t p0, int64_t p1) {
    // PyTorch's order: rows combine two column-interpolated values. Each input row is interpolated across
    // the columns once (not once per output row that reads it), then output rows are a plain weighted sum
    // of two of those rows, which vectorises; the same operations on the same values, so the same bits.
    std::vector<T> across(static_cast<size_t>(H * OW));
    for (int64_t pl = p0; pl < p1; ++pl) {
      const T* xp = x + pl * H * W;
      for (int64_t i = 0; i < H; ++i) {
        const T* row = xp + i * W;
        T* a = across.data() + i * OW;
        for (int64_t c = 0; c < OW; ++c) a[c] = tx[c].l0 * row[tx[c].i0] + tx[c].l1 * row[tx[c].i1];
      }
      T* yp = y + map.big_plane(pl) * OH * OW;
      for (int64_t r = 0; r < OH; ++r) {
        const T* a0 = across.data() + ty[r].i0 * OW;
        const T* a1 = across.data() + ty[r].i1 * OW;
        const T l0 = ty[r].l0, l1 = ty[r].l1;
        T* out = yp + r * OW;
        for (int64_t c = 0; c < OW; ++c) out[c] = l0 * a0[c] + l1 * a1[c];
      }
    }
  });
}

template <class T>
void bilinear_bwd(const T* g, T* gx, int64_t planes, int64_t H, int64_t W, PlaneMap map) {
  const auto ry = readers_of(taps_of<T>(H), H), rx = readers_of(taps_of<T>(W), W);
  const int64_t OH = 2 * H, OW = 2 * W;
  parallel_for(planes, 1, [&](int64_t p0, int64_t p1) {
    // Separable, as the forward: each output row is first gathered across the columns that read each input
    // column (at most 4 terms), then each input row sums the (at most 4) gathered rows that read it, a loop
    // over the columns that vectorises. Every product of a weight (a multiple of 1/4) and a float is exact in
    // double, so this differs from gathering the 16 terms of an element in one chain only in the double
    // rounding of the sums, far below float's: the results are the same floats but for rare last-bit ties,
    // at a fraction of the time (the one chain of 16 dependent adds per element was latency-bound: 3.2% of an
    // AlbuNet training step's samples).
    std::vector<double> across(static_cast<size_t>(OH * W)), acc(static_cast<size_t>(W));
    for (int64_t pl = p0; pl < p1; ++pl) {
      const T* gp = g + map.big_plane(pl) * OH * OW;
      for (int64_t r = 0; r < OH; ++r) {
        const T* row = gp + r * OW;
        double* a = across.data() + r * W;
        for (int64_t j = 0; j < W; ++j) {
          const Readers<T>& c = rx[j];
          double sum = 0.0;
          for (int64_t b = 0; b < c.count; ++b) sum += static_cast<double>(c.weight[b]) * row[c.first + b];
          a[j] = sum;
        }
      }
      for (int64_t i = 0; i < H; ++i) {
        const Readers<T>& rows = ry[i];
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t k = 0; k < rows.count; ++k) {
          const double w = static_cast<double>(rows.weight[k]);
          const double* a = across.data() + (rows.first + k) * W;
          for (int64_t j = 0; j < W; ++j) acc[j] += w * a[j];
        }
        T* out = gx + (pl * H + i) * W;
        for (int64_t j = 0; j < W; ++j) out[j] = static_cast<T>(acc[j]);
      }
    }
  });
}

}  // namespace

namespace {
// out [2 W] = each of in [W] twice.
template <class T>
void nearest_row(const T* __restrict in, int64_t W, T* __restrict out) {
  for (int64_t c = 0; c < W; ++c) out[2 * c] = out[2 * c + 1] = in[c];
}
}  // namespace

void upsample2x_fwd(const Tensor& x, UpsampleMode mode, Tensor& y, int64_t y_channel_offset) {
  with_float_type(x.dtype(), "upsample2x", [&](auto tag) {
    using T = decltype(tag);
    const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
    const PlaneMap map{x.size(1), y.size(1), y_channel_offset};
    const T* px = x.data<T>();
    T* py = y.data<T>();
    if (mode == UpsampleMode::kBilinear) {
      bilinear_fwd(px, py, planes, H, W, map);
      return;
    }
    parallel_for(planes, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        T* yp = py + map.big_plane(pl) * 4 * H * W;
        for (int64_t r = 0; r < H; ++r) {  // output row 2r: each element twice; row 2r + 1: a copy of it
          nearest_row(px + (pl * H + r) * W, W, yp + 2 * r * 2 * W);
          std::memcpy(yp + (2 * r + 1) * 2 * W, yp + 2 * r * 2 * W, sizeof(T) * 2 * W);
        }
      }
    });
  });
}

void upsample2x_bwd(const Tensor& grad_y, UpsampleMode mode, Tensor& grad_x, int64_t y_channel_offset) {
  with_float_type(grad_x.dtype(), "upsample2x", [&](auto tag) {
    using T = decltype(tag);
    const int64_t planes = grad_x.size(0) * grad_x.size(1), H = grad_x.size(2), W = grad_x.size(3);
    const PlaneMap map{grad_x.size(1), grad_y.size(1), y_channel_offset};
    const T* pg = grad_y.data<T>();
    T* pgx = grad_x.data<T>();
    if (mode == UpsampleMode::kBilinear) {
      bilinear_bwd(pg, pgx, planes, H, W, map);
      return;
    }
    const int64_t OW = 2 * W;
    parallel_for(planes, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl)
        for (int64_t i = 0; i < H; ++i)
          for (int64_t j = 0; j < W; ++j) {
            // The 2x2 block that copied x[i][j], summed in row-major order.
            const T* g = pg + (map.big_plane(pl) * 2 * H + 2 * i) * OW + 2 * j;
            double acc = static_cast<double>(g[0]) + g[1];
            acc += g[OW];
            acc += g[OW + 1];
            pgx[(pl * H + i) * W + j] = static_cast<T>(acc);
          }
    });
  });
}

}  // namespace pleura::cpu
