// CPU kernels of scse_maxout (engine/ops/scse.h); twin: cuda/scse.cu, tests: tests/ops/test_scse.cpp.
// Work is split into tasks of (sample n, chunk of kChunk pixels); each task walks x channel by channel over
// its contiguous pixels (vectorisable), keeping per-pixel sums in double. The channel sums use the slice
// order of kScseSlices (as the CUDA kernels do); the pixel sums of the two weight gradients are per-chunk
// partials added in a fixed order, so nothing depends on the thread count.
#include "engine/ops/scse.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/float_types.h"
#include "engine/parallel.h"

namespace pleura::cpu {

namespace {

// Pixels per task, and the block size of the pixel sums (a constant: the sums' order must not depend on the
// machine).
constexpr int64_t kChunk = 256;

struct Dims {
  int64_t n, c, hw, chunks;
};
Dims dims_of(const Tensor& x) {
  int64_t hw = x.size(2) * x.size(3);
  return {x.size(0), x.size(1), hw, (hw + kChunk - 1) / kChunk};
}

// Same branches as the sigmoid op (cpu/sigmoid.cpp), in double: exp only sees -|s|. NaN stays NaN.
double sigmoid_d(double s) {
  if (s >= 0.0) return 1.0 / (1.0 + std::exp(-s));
  double e = std::exp(s);
  return e / (1.0 + e);
}

// The gradient of max(a, b) as torch.maximum and cpu/maximum.cpp: where(a == b, g / 2, g), zeroed for the
// branch that is strictly smaller (so a NaN branch gives both the full g).
template <class T>
inline void split_grad(T a, T b, T g, T& ga, T& gb) {
  T h = a == b ? g / T(2) : g;
  ga = a < b ? T(0) : h;
  gb = a > b ? T(0) : h;
}

}  // namespace

void scse_maxout_fwd(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight, Tensor& out,
                     Tensor& spatial_gate) {
  with_float_type(x.dtype(), "scse_maxout", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pcg = channel_gate.data<T>();
    const T* pw = spatial_weight.data<T>();
    T* po = out.data<T>();
    T* psg = spatial_gate.data<T>();
    Dims d = dims_of(x);
    parallel_for(d.n * d.chunks, 1, [&](int64_t t0, int64_t t1) {
      std::vector<double> slice(static_cast<size_t>(kScseSlices * kChunk));
      for (int64_t t = t0; t < t1; ++t) {
        int64_t n = t / d.chunks, p0 = (t % d.chunks) * kChunk;
        int64_t len = std::min(kChunk, d.hw - p0);
        const T* xn = px + n * d.c * d.hw + p0;
        T* on = po + n * d.c * d.hw + p0;
        T* gate = psg + n * d.hw + p0;
        // The logit: float products are exact in double, so each slice sum matches the CUDA warp's.
        std::fill(slice.begin(), slice.end(), 0.0);
        for (int64_t c = 0; c < d.c; ++c) {
          double* acc = slice.data() + (c % kScseSlices) * kChunk;
          double wc = static_cast<double>(pw[c]);
          const T* xc = xn + c * d.hw;
          for (int64_t i = 0; i < len; ++i) acc[i] += wc * static_cast<double>(xc[i]);
        }
        for (int64_t i = 0; i < len; ++i) {
          double s = 0.0;
          for (int k = 0; k < kScseSlices; ++k) s += slice[static_cast<size_t>(k * kChunk + i)];
          gate[i] = static_cast<T>(sigmoid_d(s));
        }
        // Both products in T, merged as cpu/maximum.cpp: a != a only for NaN, so a NaN a is returned and a
        // NaN b (a > b fails) too.
        for (int64_t c = 0; c < d.c; ++c) {
          T cg = pcg[n * d.c + c];
          const T* xc = xn + c * d.hw;
          T* oc = on + c * d.hw;
          for (int64_t i = 0; i < len; ++i) {
            T a = xc[i] * cg, b = xc[i] * gate[i];
            oc[i] = (a > b || a != a) ? a : b;
          }
        }
      }
    });
  });
}

void scse_maxout_bwd(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight,
                     const Tensor& spatial_gate, const Tensor& grad_out, Tensor* grad_x, Tensor* grad_channel_gate,
                     Tensor* grad_spatial_weight) {
  if (!grad_x && !grad_channel_gate && !grad_spatial_weight) return;
  with_float_type(x.dtype(), "scse_maxout", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pcg = channel_gate.data<T>();
    const T* pw = spatial_weight.data<T>();
    const T* psg = spatial_gate.data<T>();
    const T* pg = grad_out.data<T>();
    T* pgx = grad_x ? grad_x->data<T>() : nullptr;
    Dims d = dims_of(x);
    // The logit's gradient is needed for grad_x (the path through the spatial gate) and grad_spatial_weight.
    const bool need_s = grad_x || grad_spatial_weight;
    // Per-task partial sums over the chunk's pixels: [n][chunk][c], added in order afterwards.
    size_t parts = static_cast<size_t>(d.n * d.chunks * d.c);
    std::vector<double> part_cg(grad_channel_gate ? parts : 0), part_w(grad_spatial_weight ? parts : 0);
    parallel_for(d.n * d.chunks, 1, [&](int64_t t0, int64_t t1) {
      std::vector<double> slice(static_cast<size_t>(kScseSlices * kChunk));
      std::vector<T> grad_s(static_cast<size_t>(kChunk), T(0));
      for (int64_t t = t0; t < t1; ++t) {
        int64_t n = t / d.chunks, p0 = (t % d.chunks) * kChunk;
        int64_t len = std::min(kChunk, d.hw - p0);
        int64_t base = n * d.c * d.hw + p0;
        const T* gate = psg + n * d.hw + p0;
        if (need_s) {
          // Pass 1: d out / d gate = sum over c of the spatial branch's share of grad_out times x, in the
          // slice order; then through the sigmoid, (g * y) * (1 - y) in double as the CUDA kernel does.
          std::fill(slice.begin(), slice.end(), 0.0);
          for (int64_t c = 0; c < d.c; ++c) {
            double* acc = slice.data() + (c % kScseSlices) * kChunk;
            T cg = pcg[n * d.c + c];
            const T* xc = px + base + c * d.hw;
            const T* gc = pg + base + c * d.hw;
            for (int64_t i = 0; i < len; ++i) {
              T ga, gb;
              split_grad(xc[i] * cg, xc[i] * gate[i], gc[i], ga, gb);
              acc[i] += static_cast<double>(gb) * static_cast<double>(xc[i]);
            }
          }
          for (int64_t i = 0; i < len; ++i) {
            double s = 0.0;
            for (int k = 0; k < kScseSlices; ++k) s += slice[static_cast<size_t>(k * kChunk + i)];
            double y = static_cast<double>(gate[i]);
            grad_s[static_cast<size_t>(i)] = static_cast<T>(s * y * (1.0 - y));
          }
        }
        // Pass 2: grad_x = ga * cg + gb * gate + grad_s * w[c], evaluated left to right in T (the build is ISO
        // C++, so no FMA contraction: the CUDA kernel spells the same roundings with __fmul_rn/__fadd_rn).
        for (int64_t c = 0; c < d.c; ++c) {
          T cg = pcg[n * d.c + c], wc = pw[c];
          const T* xc = px + base + c * d.hw;
          const T* gc = pg + base + c * d.hw;
          T* gxc = pgx ? pgx + base + c * d.hw : nullptr;
          double acc_cg = 0.0, acc_w = 0.0;
          for (int64_t i = 0; i < len; ++i) {
            T ga, gb;
            split_grad(xc[i] * cg, xc[i] * gate[i], gc[i], ga, gb);
            if (gxc) gxc[i] = ga * cg + gb * gate[i] + grad_s[static_cast<size_t>(i)] * wc;
            acc_cg += static_cast<double>(ga) * static_cast<double>(xc[i]);
            acc_w += static_cast<double>(grad_s[static_cast<size_t>(i)]) * static_cast<double>(xc[i]);
          }
          size_t slot = static_cast<size_t>(t * d.c + c);
          if (grad_channel_gate) part_cg[slot] = acc_cg;
          if (grad_spatial_weight) part_w[slot] = acc_w;
        }
      }
    });
    // grad_channel_gate[n, c]: the chunks of sample n in order; grad_spatial_weight[c]: samples, then chunks.
    if (grad_channel_gate) {
      T* out = grad_channel_gate->data<T>();
      for (int64_t n = 0; n < d.n; ++n) {
        for (int64_t c = 0; c < d.c; ++c) {
          double s = 0.0;
          for (int64_t j = 0; j < d.chunks; ++j) s += part_cg[static_cast<size_t>((n * d.chunks + j) * d.c + c)];
          out[n * d.c + c] = static_cast<T>(s);
        }
      }
    }
    if (grad_spatial_weight) {
      T* out = grad_spatial_weight->data<T>();
      for (int64_t c = 0; c < d.c; ++c) {
        double s = 0.0;
        for (int64_t r = 0; r < d.n * d.chunks; ++r) s += part_w[static_cast<size_t>(r * d.c + c)];
        out[c] = static_cast<T>(s);
      }
    }
  });
}

}  // namespace pleura::cpu
