// Float64 finite-difference gradient check, reused by every op, layer and model test.
//
// The function's output (any shape) is reduced to L = sum(out * w) with fixed random weights w, so
// every output element matters. For each input, analytic dL/dx from backward() is compared with the
// central difference (L(x + eps) - L(x - eps)) / (2 eps) on up to max_checks elements (all of them
// when the input is small, else a seeded random sample). Error of one element:
//   |analytic - numeric| / max(|analytic|, |numeric|, floor_fraction * max |numeric| of that input)
// so that elements with tiny gradients are judged against the input's gradient scale.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/tensor.h"

namespace pleura::testing {

struct GradCheckOptions {
  double eps = 1e-6;
  double tolerance = 1e-6;     // the bound on relative error
  double floor_fraction = 1e-3;
  int max_checks = 48;         // per input
  uint64_t seed = 7;
};

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

// inputs: float64 CPU tensors; the helper makes them require gradients. Reports through doctest
// CHECKs (naming the input, element, analytic and numeric values) and returns the largest error.
double check_gradients(const GradFn& fn, std::vector<Tensor> inputs, const GradCheckOptions& options = {});

}  // namespace pleura::testing
