// The per-pixel arithmetic of the triplet ops (engine/ops/triplet_mask.h), compiled into both
// cpu/triplet_mask.cpp and cuda/triplet_mask.cu so that the two backends compute the same bits.
// Only +, -, *, / with explicit rounding are used: no libm exp (glibc and CUDA round differently).
#pragma once

#include <cmath>

#include "engine/ops/exact_math.h"

namespace pleura::triplet_math {

using exact::add_rn;
using exact::div_rn;
using exact::mul_rn;
using exact::sub_rn;

// exp(x) for x <= 0 (NaN stays NaN), within about 1 ulp: x = k*ln2 + r with |r| <= ln2/2 (Cody-Waite:
// ln2 split into a 15-bit head, so k*head is exact, and a tail), exp(r) - 1 by a degree-7 Taylor
// polynomial (truncation error < 1e-8 relative), then 1 + that, scaled by 2^k with exact powers of two
// (the scaling into the subnormal range rounds once, identically on both backends).
PLEURA_HOST_DEVICE inline float exp_nonpositive(float x) {
  if (!(x >= -104.0f)) return x != x ? x : 0.0f;  // exp(-104) is below half the smallest subnormal
  // Constants as hex literals, so that both compilers start from the same bits.
  const float kLog2e = 0x1.715476p+0f;   // log2(e)
  const float kLn2Hi = 0x1.62e4p-1f;     // 0.693145751953125: 15 significant bits
  const float kLn2Lo = 0x1.7f7d1cp-20f;  // ln 2 - kLn2Hi
  float kf = rintf(mul_rn(x, kLog2e));
  float r = sub_rn(sub_rn(x, mul_rn(kf, kLn2Hi)), mul_rn(kf, kLn2Lo));
  // Horner on 1/5040, 1/720, 1/120, 1/24, 1/6, 1/2 (each rounded to float32).
  float poly = 0x1.a01a02p-13f;
  poly = add_rn(mul_rn(poly, r), 0x1.6c16c2p-10f);
  poly = add_rn(mul_rn(poly, r), 0x1.111112p-7f);
  poly = add_rn(mul_rn(poly, r), 0x1.555556p-5f);
  poly = add_rn(mul_rn(poly, r), 0x1.555556p-3f);
  poly = add_rn(mul_rn(poly, r), 0.5f);
  float expm1_r = add_rn(mul_rn(mul_rn(poly, r), r), r);  // r + r^2 * (1/2 + r/6 + ...)
  float e = add_rn(1.0f, expm1_r);
  int k = static_cast<int>(kf);
  if (k >= -126) return mul_rn(e, ldexpf(1.0f, k));
  return mul_rn(mul_rn(e, ldexpf(1.0f, k + 64)), 0x1p-64f);
}

// The float32 sigmoid of the triplet ops' logit inputs: 1 / (1 + exp(-x)) for x >= 0, e / (1 + e) with
// e = exp(x) for x < 0 (exp only sees -|x|, so nothing overflows). Within ~2 ulp of the exact sigmoid,
// and bit-identical on the CPU and CUDA (it may differ from PyTorch's sigmoid in the last bit).
PLEURA_HOST_DEVICE inline float portable_sigmoid(float x) {
  if (x >= 0.0f) return div_rn(1.0f, add_rn(1.0f, exp_nonpositive(-x)));
  float e = exp_nonpositive(x);
  return div_rn(e, add_rn(1.0f, e));
}

// Number of thresholds strictly below p, for thr[0] < thr[1] < ... < thr[count-1]: p > thr[j] exactly
// for j below the result. NaN compares false with everything and lands in bin 0.
PLEURA_HOST_DEVICE inline int threshold_bin(const float* thr, int count, float p) {
  int lo = 0, hi = count;
  while (lo < hi) {
    int mid = (lo + hi) >> 1;
    if (thr[mid] < p) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace pleura::triplet_math
