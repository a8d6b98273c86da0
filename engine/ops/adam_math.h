// Adam's per-step constants (engine/ops/adam.h), compiled into cpu/adam.cpp and cuda/adam.cu: the bias
// corrections from the step count, in double, with correctly rounded multiplies only, so that the host
// (adam_step) and a CUDA thread (adam_multi_step, whose step counts live on the device) get the same bits.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/ops/exact_math.h"

namespace pleura::adam_math {

using exact::mul_rn;  // never contracted into an FMA with the subtraction that follows

// base^n for n >= 0 by repeated squaring. Each squaring doubles the relative error carried, so it is
// about n ulp of base^n; what matters, the bias correction 1 - base^n, is then off by at most about
// max_n n * base^n * 2^-53 = 2^-53 / (e * ln(1/base)): 4e-14 for base 0.999, far below float32's
// resolution (and the same bits on both backends, which std::pow and CUDA's pow are not).
PLEURA_HOST_DEVICE inline double power(double base, int64_t n) {
  double result = 1.0;
  while (n > 0) {
    if (n & 1) result = mul_rn(result, base);
    base = mul_rn(base, base);
    n >>= 1;
  }
  return result;
}

// lr / (1 - beta1^step): the step size of the bias-corrected first moment.
PLEURA_HOST_DEVICE inline double step_size(double lr, double beta1, int64_t step) {
  return lr / (1.0 - power(beta1, step));
}
// sqrt(1 - beta2^step): the bias correction of the second moment's root.
PLEURA_HOST_DEVICE inline double root_bias_correction2(double beta2, int64_t step) {
  return sqrt(1.0 - power(beta2, step));
}

}  // namespace pleura::adam_math
