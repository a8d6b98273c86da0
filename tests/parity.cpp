// check_cuda_parity (see parity.h).
#include "tests/parity.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"

namespace pleura::testing {

double parity_error(const Tensor& cuda_result, const Tensor& cpu_reference) {
  REQUIRE_MESSAGE(cuda_result.shape() == cpu_reference.shape(), "shapes differ: ", cuda_result.shape().str(), " vs ",
                  cpu_reference.shape().str());
  std::vector<double> a = cuda_result.to_vector(), b = cpu_reference.to_vector();
  double scale = 0.0;
  for (double v : b) scale = std::max(scale, std::fabs(v));
  double floor = std::max(1e-3 * scale, 1e-30);
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    double e = std::fabs(a[i] - b[i]) / (std::fabs(b[i]) + floor);
    if (std::isnan(e)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, e);
  }
  return worst;
}

namespace {

// max over elements of |a - b| / m (m >= 0 from the magnitude run; an element with m == 0 must match).
double magnitude_error(const Tensor& cuda_result, const Tensor& cpu_reference, const Tensor& magnitude) {
  std::vector<double> a = cuda_result.to_vector(), b = cpu_reference.to_vector(), m = magnitude.to_vector();
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = std::fabs(a[i] - b[i]);
    if (std::isnan(d)) return std::numeric_limits<double>::infinity();
    double e = m[i] > 0 ? d / m[i] : (d == 0 ? 0.0 : std::numeric_limits<double>::infinity());
    worst = std::max(worst, e);
  }
  return worst;
}

}  // namespace

double check_cuda_parity(const GradFn& fn, const std::vector<Tensor>& inputs, const std::string& what,
                         const ParityOptions& opt) {
  std::vector<Tensor> cpu_in, cuda_in;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor c = inputs[k].to(DType::kFloat32).clone();
    Tensor g = c.to(Device::cuda());
    bool grad = opt.requires_grad.empty() || opt.requires_grad[k];
    if (grad) {
      c.set_requires_grad(true);
      g.set_requires_grad(true);
    }
    cpu_in.push_back(c);
    cuda_in.push_back(g);
  }
  // The magnitude run: the same computation on |inputs| in float64 (kTermMagnitude only).
  bool by_magnitude = opt.measure == ParityMeasure::kTermMagnitude;
  std::vector<Tensor> abs_in;
  if (by_magnitude) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      std::vector<double> v = inputs[k].to_vector();
      for (double& e : v) e = std::fabs(e);
      Tensor a = Tensor::from_vector(v, inputs[k].shape(), DType::kFloat64);
      if (cpu_in[k].requires_grad()) a.set_requires_grad(true);
      abs_in.push_back(a);
    }
  }
  auto error = [&](const Tensor& got, const Tensor& ref, const Tensor& magnitude) {
    return by_magnitude ? magnitude_error(got, ref, magnitude) : parity_error(got, ref);
  };

  Tensor out_cpu = fn(cpu_in);
  Tensor out_cuda = fn(cuda_in);
  Tensor out_abs = by_magnitude ? fn(abs_in) : Tensor();
  REQUIRE_MESSAGE(out_cuda.device().is_cuda(), what, ": output is not on CUDA");
  double worst = error(out_cuda, out_cpu, out_abs);
  CHECK_MESSAGE(worst <= opt.tolerance, what, ": forward error ", worst, " > ", opt.tolerance);

  if (out_cpu.requires_grad()) {
    Rng rng(opt.seed);
    Tensor w = rand_uniform(out_cpu.shape(), rng, 0.5, 1.5, DType::kFloat32);
    sum(mul(out_cpu, w)).backward();
    sum(mul(out_cuda, w.to(Device::cuda()))).backward();
    // w > 0, so the magnitude run's gradients are the magnitudes of the gradients' terms.
    if (by_magnitude) sum(mul(out_abs, w.to(DType::kFloat64))).backward();
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (!cpu_in[k].requires_grad()) continue;
      REQUIRE_MESSAGE(cuda_in[k].grad().defined(), what, ": input ", k, " got no CUDA gradient");
      double e = error(cuda_in[k].grad(), cpu_in[k].grad(), by_magnitude ? abs_in[k].grad() : Tensor());
      CHECK_MESSAGE(e <= opt.tolerance, what, ": gradient of input ", k, " error ", e, " > ", opt.tolerance);
      worst = std::max(worst, e);
    }
  }
  return worst;
}

}  // namespace pleura::testing
