// The combo loss from its per-image sums (engine/ops/combo_loss.h): the value, its three terms, the clamp
// and the backward coefficients, in double. One copy, compiled into the host path (engine/ops/
// combo_loss.cpp), the CPU kernel (cpu/combo_loss.cpp) and the CUDA kernel (cuda/combo_loss.cu, one
// thread), with the roundings spelled out (no FMA contraction on the device), so all give the same bits.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/ops/combo_loss.h"
#include "engine/ops/exact_math.h"

namespace pleura::combo_math {

// SEMANTICS.md's dice eps. The Losses.py we read sets eps = 1e-5 inside soft_dice_loss; on the golden
// cases the two differ by ~1e-9 relative (the sums are in the thousands), so the goldens cannot tell them
// apart, and we follow SEMANTICS.md.
constexpr double kDiceEps = 1e-6;
constexpr double kLossFloor = 1e-5;

// Spelled-out roundings: no FMA contraction on the device.
using exact::add_rn;
using exact::mul_rn;

// dice = 1 - (2*I + eps) / (S + eps) with S = sum p + sum t.
PLEURA_HOST_DEVICE inline double dice_of(double pt, double s) {
  return 1.0 - add_rn(mul_rn(2.0, pt), kDiceEps) / add_rn(s, kDiceEps);
}

// The reference's loss.clamp(min=1e-5): the gradient passes where loss >= 1e-5, compared in the element
// type (the reference compares the float32 loss with the float32 bound).
PLEURA_HOST_DEVICE inline bool above_floor(double loss, bool float32) {
  if (float32) return static_cast<float>(loss) >= static_cast<float>(kLossFloor);
  return loss >= kLossFloor;
}

// Fills `out` (ComboResult, then dice_a[f.local_images], then dice_b[f.local_images]) from `sums`
// (f.n_images x kComboSumCount). Totals over images are added in image order.
PLEURA_HOST_DEVICE inline void finish(const double* sums, const ComboFinish& f, double* out) {
  double total[kComboSumCount] = {};
  for (int64_t n = 0; n < f.n_images; ++n)
    for (int k = 0; k < kComboSumCount; ++k) total[k] = add_rn(total[k], sums[n * kComboSumCount + k]);
  ComboResult r;
  r.bad_targets = total[kSumBadTargets];
  r.nonfinite_logits = total[kSumNonFinite];
  r.bce = total[kSumBce] / static_cast<double>(f.numel);
  r.focal = total[kSumFocal] / static_cast<double>(f.numel);
  double* dice_a = out + kComboResultFields;
  double* dice_b = dice_a + f.local_images;
  if (!f.per_image) {
    const double s = add_rn(add_rn(total[kSumP], total[kSumT]), kDiceEps);
    r.dice = dice_of(total[kSumPT], add_rn(total[kSumP], total[kSumT]));
    for (int64_t n = 0; n < f.local_images; ++n) {
      dice_a[n] = mul_rn(f.w_dice, add_rn(mul_rn(2.0, total[kSumPT]), kDiceEps)) / mul_rn(s, s);
      dice_b[n] = mul_rn(f.w_dice, 2.0) / s;
    }
  } else {
    const double scale = f.w_dice / static_cast<double>(f.n_images);
    for (int64_t n = 0; n < f.n_images; ++n) {
      const double* in = sums + n * kComboSumCount;
      const double s = add_rn(add_rn(in[kSumP], in[kSumT]), kDiceEps);
      r.dice = add_rn(r.dice, dice_of(in[kSumPT], add_rn(in[kSumP], in[kSumT])));
      if (n < f.first || n >= f.first + f.local_images) continue;  // another rank's image
      dice_a[n - f.first] = mul_rn(scale, add_rn(mul_rn(2.0, in[kSumPT]), kDiceEps)) / mul_rn(s, s);
      dice_b[n - f.first] = mul_rn(scale, 2.0) / s;
    }
    r.dice /= static_cast<double>(f.n_images);
  }
  r.raw = add_rn(add_rn(mul_rn(f.w_bce, r.bce), mul_rn(f.w_dice, r.dice)), mul_rn(f.w_focal, r.focal));
  r.loss = r.raw > kLossFloor ? r.raw : kLossFloor;
  r.passes = above_floor(r.raw, f.float32) ? 1.0 : 0.0;
  if (r.bad_targets != 0.0 || r.nonfinite_logits != 0.0) r.loss = NAN;
  const double fields[kComboResultFields] = {r.loss,    r.raw,    r.bce,         r.dice,
                                             r.focal,   r.passes, r.bad_targets, r.nonfinite_logits};
  for (int64_t i = 0; i < kComboResultFields; ++i) out[i] = fields[i];
}

}  // namespace pleura::combo_math
