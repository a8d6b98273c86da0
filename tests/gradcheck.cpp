// check_gradients (see gradcheck.h).
#include "tests/gradcheck.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"

namespace pleura::testing {

namespace {
double weighted_sum(const Tensor& out, const Tensor& w) {
  std::vector<double> o = out.to_vector(), wv = w.to_vector();
  double s = 0.0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * wv[i];
  return s;
}
}  // namespace

double check_gradients(const GradFn& fn, std::vector<Tensor> inputs, const GradCheckOptions& opt) {
  for (size_t k = 0; k < inputs.size(); ++k) {
    REQUIRE_MESSAGE(inputs[k].dtype() == DType::kFloat64, "gradcheck input ", k, " must be float64");
    inputs[k] = inputs[k].clone();
    inputs[k].set_requires_grad(true);
  }
  Tensor out = fn(inputs);
  Rng rng(opt.seed);
  Tensor w = rand_uniform(out.shape(), rng, 0.5, 1.5, DType::kFloat64);
  // Analytic: backward of sum(out * w).
  Tensor loss = sum(mul(out, w));
  loss.backward();

  double worst = 0.0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor grad = inputs[k].grad();
    REQUIRE_MESSAGE(grad.defined(), "input ", k, " received no gradient");
    std::vector<double> analytic = grad.to_vector();
    int64_t n = inputs[k].numel();
    std::vector<int64_t> picks;
    if (n <= opt.max_checks) {
      for (int64_t i = 0; i < n; ++i) picks.push_back(i);
    } else {
      for (int i = 0; i < opt.max_checks; ++i) picks.push_back(static_cast<int64_t>(rng.below(n)));
    }
    std::vector<double> numeric(picks.size());
    {
      NoGradGuard no_grad;
      double* x = inputs[k].data<double>();
      for (size_t j = 0; j < picks.size(); ++j) {
        double saved = x[picks[j]];
        x[picks[j]] = saved + opt.eps;
        double up = weighted_sum(fn(inputs), w);
        x[picks[j]] = saved - opt.eps;
        double down = weighted_sum(fn(inputs), w);
        x[picks[j]] = saved;
        numeric[j] = (up - down) / (2 * opt.eps);
      }
    }
    double scale = 0.0;
    for (double v : numeric) scale = std::max(scale, std::fabs(v));
    double floor = std::max(opt.floor_fraction * scale, 1e-300);
    for (size_t j = 0; j < picks.size(); ++j) {
      double a = analytic[picks[j]], nu = numeric[j];
      double err = std::fabs(a - nu) / std::max({std::fabs(a), std::fabs(nu), floor});
      if (std::isnan(err)) err = INFINITY;
      worst = std::max(worst, err);
      CHECK_MESSAGE(err <= opt.tolerance, "input ", k, " element ", picks[j], ": analytic ", a, ", numeric ", nu,
                    ", relative error ", err);
    }
  }
  return worst;
}

}  // namespace pleura::testing
