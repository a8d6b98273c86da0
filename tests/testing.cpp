// Implementation of the shared test helpers (testing.h).
#include "tests/testing.h"

#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/host_allocator.h"

namespace pleura::testing {

namespace {
int g_skipped_gpu = 0;
}

Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype, double lo, double hi) {
  Rng rng(seed);
  return rand_uniform(shape, rng, lo, hi, dtype);
}

double max_rel_error(const Tensor& a, const Tensor& b, double atol) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), "shapes differ: ", a.shape().str(), " vs ", b.shape().str());
  std::vector<double> va = a.to_vector(), vb = b.to_vector();
  double worst = 0.0;
  for (size_t i = 0; i < va.size(); ++i) {
    double e = std::fabs(va[i] - vb[i]) / (atol + std::fabs(vb[i]));
    if (std::isnan(e)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, e);
  }
  return worst;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector()) m = std::max(m, std::fabs(v));
  return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> av = a.to_vector(), bv = b.to_vector();
  REQUIRE(av.size() == bv.size());
  double m = 0;
  for (size_t i = 0; i < av.size(); ++i) m = std::max(m, std::fabs(av[i] - bv[i]));
  return m;
}

void expect_close(const Tensor& a, const Tensor& b, double rtol, double atol, const std::string& what) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), what, ": shapes differ: ", a.shape().str(), " vs ", b.shape().str());
  std::vector<double> va = a.to_vector(), vb = b.to_vector();
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    bool ok = std::fabs(va[i] - vb[i]) <= atol + rtol * std::fabs(vb[i]);  // false for NaN
    if (!ok && bad++ == 0) first = i;
  }
  CHECK_MESSAGE(bad == 0, what, ": ", bad, " of ", va.size(), " elements differ; first at flat index ", first,
                ": got ", (bad ? va[first] : 0.0), ", expected ", (bad ? vb[first] : 0.0), " (rtol ", rtol,
                ", atol ", atol, ")");
}

HostAllocFailure::HostAllocFailure(size_t bytes) { set_host_alloc_failure_for_tests(bytes); }
HostAllocFailure::~HostAllocFailure() { set_host_alloc_failure_for_tests(0); }

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, "message '", msg, "' lacks '", p, "'");
    return;
  }
  FAIL("expected a pleura::Error mentioning '", (parts.empty() ? std::string() : parts[0]), "'");
}

bool gpu_available_or_skip() {
  if (cuda::device_count() > 0) return true;
  ++g_skipped_gpu;
  MESSAGE("skipped: no CUDA device available");
  return false;
}

int skipped_gpu_cases() { return g_skipped_gpu; }

}  // namespace pleura::testing
