// CPU kernels of combo_loss (engine/ops/combo_loss.h); twin: cuda/combo_loss.cu.
// Each element's terms follow the reference's float32 arithmetic where it matters (p = sigmoid in the
// element type, the focal clamps and pt in the element type); the sums and the gradient are formed in
// double. Per-image sums come from fixed 4096-element blocks added in order: thread-count independent.
#include "engine/ops/combo_loss.h"
#include "engine/ops/combo_loss_math.h"

#include <algorithm>
#include <cmath>

#include "cpu/float_types.h"
#include "engine/parallel.h"
#include "cpu/reduce.h"
#include "cpu/stable_sigmoid.h"

namespace pleura::cpu {

namespace {

// The focal loss clamps p and t to [1e-8, 1 - 1e-8] in the element type. In float32 the upper bound
// 1 - 1e-8 rounds to exactly 1, so a confidently wrong pixel keeps pt = 1e-8 (cost ~18.4), as in the
// reference; in float64 it stays below 1.
template <class T>
struct FocalClamp {
  static constexpr T lo = static_cast<T>(1e-8);
  static constexpr T hi = T(1) - static_cast<T>(1e-8);
};

template <class T>
T clamp_focal(T v) {
  return std::min(std::max(v, FocalClamp<T>::lo), FocalClamp<T>::hi);
}

// pt = (1-t')(1-p') + t'*p' in the element type, as the reference computes it.
template <class T>
T focal_pt(T pc, T tc) {
  return (T(1) - tc) * (T(1) - pc) + tc * pc;
}

template <class T>
void add_terms(T x, T t, double* acc) {
  T p = stable_sigmoid(x);
  double xd = x, td = t, pd = p;
  acc[kSumBce] += std::max(xd, 0.0) - xd * td + std::log1p(std::exp(-std::fabs(xd)));
  acc[kSumPT] += pd * td;
  acc[kSumP] += pd;
  acc[kSumT] += td;
  double q = focal_pt(clamp_focal(p), clamp_focal(t));
  acc[kSumFocal] += -(1.0 - q) * (1.0 - q) * std::log(q);
  acc[kSumBadTargets] += (t >= T(0) && t <= T(1)) ? 0.0 : 1.0;
  acc[kSumNonFinite] += std::isfinite(xd) ? 0.0 : 1.0;
}

// d loss / d x of one element (before the upstream factor), given the image's dice coefficients.
template <class T>
double element_grad(T x, T t, double dice_a, double dice_b, const ComboBackwardScales& coef) {
  T p = stable_sigmoid(x);
  double xd = x, td = t, pd = p;
  // BCE: max(x,0) - x*t + log(1+exp(-|x|)). Its autograd gradient is sigmoid(x) - t, except at x == 0
  // where the reference's clamp (gradient 1 at 0) and abs (sign(0) = 0) give 1 - t; we keep that.
  double e = std::exp(-std::fabs(xd));
  double sig = xd >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  double grad_bce = xd == 0 ? 1.0 - td : sig - td;
  // Focal through the clamps: zero where p was clamped (p < 1e-8, or p > 1-1e-8 in float64); in
  // float32 p == 1 sits on the bound and passes, but then p(1-p) = 0 anyway.
  double grad_focal = 0.0;
  if (p >= FocalClamp<T>::lo && p <= FocalClamp<T>::hi) {
    T tc = clamp_focal(t);
    double q = focal_pt(p, tc);
    double dq = static_cast<double>(tc) - static_cast<double>(T(1) - tc);  // d pt / d p'
    grad_focal = (2.0 * (1.0 - q) * std::log(q) - (1.0 - q) * (1.0 - q) / q) * dq;
  }
  return coef.bce_scale * grad_bce + (dice_a - dice_b * td + coef.focal_scale * grad_focal) * pd * (1.0 - pd);
}

}  // namespace

void combo_loss_sums(const Tensor& logits, const Tensor& targets, int64_t n_images, Tensor& sums_out) {
  with_float_type(logits.dtype(), "combo_loss", [&](auto tag) {
    using T = decltype(tag);
    const T* px = logits.data<T>();
    const T* pt = targets.data<T>();
    int64_t per_image = logits.numel() / n_images;
    int64_t blocks = (per_image + kReduceBlock - 1) / kReduceBlock;
    std::vector<double> partial(static_cast<size_t>(n_images * blocks * kComboSumCount), 0.0);
    parallel_for(n_images * blocks, 1, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        int64_t n = j / blocks, b = j % blocks;
        int64_t begin = n * per_image + b * kReduceBlock;
        int64_t end = n * per_image + std::min(per_image, (b + 1) * kReduceBlock);
        double* acc = &partial[static_cast<size_t>(j * kComboSumCount)];
        for (int64_t i = begin; i < end; ++i) add_terms(px[i], pt[i], acc);
      }
    });
    double* sums = sums_out.data<double>();
    std::fill(sums, sums + n_images * kComboSumCount, 0.0);
    for (int64_t j = 0; j < n_images * blocks; ++j)
      for (int k = 0; k < kComboSumCount; ++k)
        sums[(j / blocks) * kComboSumCount + k] +=
            partial[static_cast<size_t>(j * kComboSumCount + k)];
  });
}

void combo_loss_finish(const Tensor& sums, const ComboFinish& f, Tensor& result, Tensor& loss) {
  double* out = result.data<double>();
  combo_math::finish(sums.data<double>(), f, out);
  with_float_type(loss.dtype(), "combo_loss", [&](auto tag) {
    using T = decltype(tag);
    loss.data<T>()[0] = static_cast<T>(out[0]);
  });
}

void combo_loss_bwd(const Tensor& logits, const Tensor& targets, int64_t n_images, const ComboBackwardScales& scales,
                    const Tensor& result, const Tensor& grad_out, Tensor& grad_logits) {
  const double* r = result.data<double>();
  const bool passes = reinterpret_cast<const ComboResult*>(r)->passes != 0.0;
  const double* dice_a = r + kComboResultFields;
  const double* dice_b = dice_a + n_images;
  with_float_type(logits.dtype(), "combo_loss", [&](auto tag) {
    using T = decltype(tag);
    const T* px = logits.data<T>();
    const T* pt = targets.data<T>();
    T* pg = grad_logits.data<T>();
    double g = static_cast<double>(grad_out.data<T>()[0]);
    int64_t per_image = logits.numel() / n_images;
    parallel_for(logits.numel(), 1 << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t n = i / per_image;
        // Below the 1e-5 clamp the gradient is zero.
        pg[i] = passes ? static_cast<T>(g * element_grad(px[i], pt[i], dice_a[n], dice_b[n], scales)) : T(0);
      }
    });
  });
}

}  // namespace pleura::cpu
