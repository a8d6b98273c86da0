// CPU kernels of batch_norm2d (engine/ops/batch_norm.h); twin: cuda/batch_norm.cu.
// Each channel belongs to one thread, which sums its N * H * W values in double (in fixed lanes): results
// never depend on the thread count. All per-element arithmetic is in double, rounded once to T.
// Synchronised batch norm (BatchNormParams::sync) sums the per-channel sums over the ranks.
#include "engine/ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/float_types.h"
#include "cpu/reduce.h"
#include "engine/ops/stored_value.h"
#include "engine/parallel.h"

namespace pleura::cpu {

namespace {

struct Dims {
  int64_t n, c, hw;
  int64_t m() const { return n * hw; }  // values per channel
};
Dims dims_of(const Tensor& x) { return {x.size(0), x.size(1), x.size(2) * x.size(3)}; }

// Sum over the N * H * W elements i of channel c of term(a[i], b[i]) in double: each image's plane in turn,
// in cpu/reduce.h's lanes (a serial chain made these sums latency-bound), the lanes added at the end. Pass
// the same pointer twice when the term reads one tensor. B may be a bfloat16 copy's bits (stored_value).
template <class A, class B, class Term>
double channel_sum(const A* a, const B* b, Dims d, int64_t c, const Term& term) {
  LaneSum s;
  for (int64_t n = 0; n < d.n; ++n) {
    const A* ap = a + (n * d.c + c) * d.hw;
    const B* bp = b + (n * d.c + c) * d.hw;
    s.add(d.hw, [&](int64_t i) {
      return term(static_cast<double>(stored_value(ap[i])), static_cast<double>(stored_value(bp[i])));
    });
  }
  return s.total();
}


// y = ((x - mean) * invstd) * w + b per element, with per-channel double statistics; then the epilogue of
// BatchNormParams (relu(y + residual)) in T's arithmetic, as add and relu compute it.
template <class T>
void normalise(const T* x, const std::vector<double>& mean, const std::vector<double>& invstd, const T* w, const T* b,
               T* y, Dims d, const BatchNormParams& params) {
  const T* r = params.residual != nullptr ? params.residual->data<T>() : nullptr;
  const bool relu = params.relu;
  int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(d.hw, 1));
  parallel_for(d.n * d.c, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t c = p % d.c;
      double mc = mean[c], ic = invstd[c];
      double wc = w ? static_cast<double>(w[c]) : 1.0, bc = b ? static_cast<double>(b[c]) : 0.0;
      const T* xp = x + p * d.hw;
      T* yp = y + p * d.hw;
      for (int64_t i = 0; i < d.hw; ++i) {
        double xh = (static_cast<double>(xp[i]) - mc) * ic;
        yp[i] = static_cast<T>(w ? xh * wc + bc : xh);
      }
      if (r != nullptr)
        for (int64_t i = 0; i < d.hw; ++i) yp[i] = yp[i] + r[p * d.hw + i];
      if (relu)
        for (int64_t i = 0; i < d.hw; ++i) yp[i] = yp[i] < T(0) ? T(0) : yp[i];
    }
  });
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// stats [2 * C] = the means, then the inverse deviations (engine/ops/batch_norm.h).
void export_stats(const std::vector<double>& mean, const std::vector<double>& invstd, Tensor& stats) {
  double* out = stats.data<double>();
  std::copy(mean.begin(), mean.end(), out);
  std::copy(invstd.begin(), invstd.end(), out + mean.size());
}

// grad_x = w * invstd * (g - mean_g - xhat * mean_gxh) in training, w * invstd * g in eval, in double, rounded
// once; sums: [sum_g per channel, sum_gxh per channel, count].
template <class X, class T>
void input_gradient(const X* px, const T* pg, const T* pw, const T* sm, const T* si, const std::vector<double>& sums,
                    bool training, Dims d, T* pgx) {
  const double m = sums.back();
  parallel_for(d.c, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const double mu = static_cast<double>(sm[c]), is = static_cast<double>(si[c]);
      const double k = (pw ? static_cast<double>(pw[c]) : 1.0) * is;
      const double mean_g = sums[c] / m, mean_gxh = sums[d.c + c] / m;
      for (int64_t n = 0; n < d.n; ++n) {
        int64_t base = (n * d.c + c) * d.hw;
        for (int64_t i = base; i < base + d.hw; ++i) {
          double g = static_cast<double>(pg[i]);
          if (training) g = g - mean_g - ((static_cast<double>(stored_value(px[i])) - mu) * is) * mean_gxh;
          pgx[i] = static_cast<T>(k * g);
        }
      }
    }
  });
}

}  // namespace

void batch_norm_fwd_train(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                          Tensor& running_var, const BatchNormParams& p, Tensor& y, Tensor& save_mean,
                          Tensor& save_invstd, Tensor* stats) {
  Dims d = dims_of(x);
  with_float_type(x.dtype(), "batch_norm2d", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* rm = running_mean.data<T>();
    T* rv = running_var.data<T>();
    T* sm = save_mean.data<T>();
    T* si = save_invstd.data<T>();
    // Two passes (mean, then squared deviations): no cancellation, whatever the mean. Synchronised (p.sync),
    // each pass's sums and the value count are summed over the ranks.
    Communicator* sync = p.sync != nullptr && p.sync->size() > 1 ? p.sync : nullptr;
    std::vector<double> mean(static_cast<size_t>(d.c)), var(static_cast<size_t>(d.c) + 1);
    parallel_for(d.c, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) mean[c] = channel_sum(px, px, d, c, [](double v, double) { return v; });
    });
    double m = static_cast<double>(d.m());
    if (sync) {
      mean.push_back(m);
      sync->all_reduce_sum(mean);
      m = mean.back();
      mean.pop_back();
    }
    for (double& mu : mean) mu /= m;
    parallel_for(d.c, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const double mu = mean[c];
        var[c] = channel_sum(px, px, d, c, [mu](double v, double) { return (v - mu) * (v - mu); });
      }
    });
    var.pop_back();
    if (sync) sync->all_reduce_sum(var);
    std::vector<double> invstd(static_cast<size_t>(d.c));
    for (int64_t c = 0; c < d.c; ++c) {
      const double mu = mean[c], v = var[c] / m;
      const double is = 1.0 / std::sqrt(v + p.eps);
      invstd[c] = is;
      sm[c] = static_cast<T>(mu);
      si[c] = static_cast<T>(is);
      // The running variance takes the unbiased estimate, the normalisation the biased one.
      double unbiased = v * (m / (m - 1.0));
      rm[c] = static_cast<T>((1.0 - p.momentum) * static_cast<double>(rm[c]) + p.momentum * mu);
      rv[c] = static_cast<T>((1.0 - p.momentum) * static_cast<double>(rv[c]) + p.momentum * unbiased);
    }
    if (stats != nullptr) export_stats(mean, invstd, *stats);
    normalise(px, mean, invstd, data_or_null<T>(weight), data_or_null<T>(bias), y.data<T>(), d, p);
  });
}

void batch_norm_fwd_eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, const BatchNormParams& p, Tensor& y, Tensor& save_mean,
                         Tensor& save_invstd, Tensor* stats) {
  Dims d = dims_of(x);
  with_float_type(x.dtype(), "batch_norm2d", [&](auto tag) {
    using T = decltype(tag);
    const T* rm = running_mean.data<T>();
    const T* rv = running_var.data<T>();
    T* sm = save_mean.data<T>();
    T* si = save_invstd.data<T>();
    std::vector<double> mean(static_cast<size_t>(d.c)), invstd(static_cast<size_t>(d.c));
    for (int64_t c = 0; c < d.c; ++c) {
      mean[c] = static_cast<double>(rm[c]);
      invstd[c] = 1.0 / std::sqrt(static_cast<double>(rv[c]) + p.eps);
      sm[c] = rm[c];
      si[c] = static_cast<T>(invstd[c]);
    }
    if (stats != nullptr) export_stats(mean, invstd, *stats);
    normalise(x.data<T>(), mean, invstd, data_or_null<T>(weight), data_or_null<T>(bias), y.data<T>(), d, p);
  });
}

void batch_norm_normalise(const Tensor& x, const Tensor& stats, const Tensor& weight, const Tensor& bias, bool relu,
                          Tensor& y) {
  const Dims d = dims_of(x);
  const double* ps = stats.data<double>();
  const std::vector<double> mean(ps, ps + d.c), invstd(ps + d.c, ps + 2 * d.c);
  BatchNormParams p;
  p.relu = relu;
  with_float_type(x.dtype(), "batch_norm2d", [&](auto tag) {
    using T = decltype(tag);
    normalise(x.data<T>(), mean, invstd, data_or_null<T>(weight), data_or_null<T>(bias), y.data<T>(), d, p);
  });
}

void batch_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd,
                    bool training, Communicator* sync, const Tensor& grad_y, Tensor* grad_x, Tensor* grad_weight,
                    Tensor* grad_bias) {
  Dims d = dims_of(x);
  if (sync != nullptr && sync->size() == 1) sync = nullptr;
  with_float_type(grad_y.dtype(), "batch_norm2d", [&](auto tag) {
    using T = decltype(tag);
    // x: T, or the bits of the bfloat16 copy backward keeps under the bf16 policy.
    with_stored_data<T>(x, [&](const auto* px) {
      const T* pg = grad_y.data<T>();
      const T* pw = data_or_null<T>(weight);
      const T* sm = save_mean.data<T>();
      const T* si = save_invstd.data<T>();
      T* pgx = grad_x ? grad_x->data<T>() : nullptr;
      T* pgw = grad_weight ? grad_weight->data<T>() : nullptr;
      T* pgb = grad_bias ? grad_bias->data<T>() : nullptr;
      // The sums are needed for grad_weight, grad_bias, and for grad_x in training mode (the batch
      // statistics depend on every x of the channel). Synchronised, grad_x needs them over every rank's
      // values, while grad_weight and grad_bias stay this rank's share (the trainer sums those over ranks).
      const bool need_sums = pgw || pgb || (pgx && training);
      std::vector<double> sums(2 * static_cast<size_t>(d.c) + 1, 0.0);  // sum_g per channel, sum_gxh, count
      if (need_sums) {
        parallel_for(d.c, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) {
            const double mu = static_cast<double>(sm[c]), is = static_cast<double>(si[c]);
            sums[c] = channel_sum(pg, pg, d, c, [](double g, double) { return g; });
            sums[d.c + c] = channel_sum(pg, px, d, c, [mu, is](double g, double v) { return g * ((v - mu) * is); });
            if (pgb) pgb[c] = static_cast<T>(sums[c]);
            if (pgw) pgw[c] = static_cast<T>(sums[d.c + c]);
          }
        });
      }
      if (!pgx) return;
      sums.back() = static_cast<double>(d.m());
      if (sync && training) sync->all_reduce_sum(sums);
      input_gradient(px, pg, pw, sm, si, sums, training, d, pgx);
    });
  });
}

}  // namespace pleura::cpu
