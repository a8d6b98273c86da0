// Tests of squared_norm (engine/ops/squared_norm.h): a worked example, sums over many chunks and tensors
// against a long double reference, the same bits for any thread count, non-finite values, no host read,
// CPU-vs-CUDA and bad input. No autograd (it feeds the optimizer's clipping), so no gradient check.
#include "engine/ops/squared_norm.h"

#include <cmath>

#include "engine/counters.h"
#include "engine/parallel.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

long double reference(const std::vector<Tensor>& tensors) {
  long double s = 0;
  for (const Tensor& t : tensors)
    for (double v : t.to_vector()) s += static_cast<long double>(v) * static_cast<long double>(v);
  return s;
}

// Sizes around the kernels' chunk of 8192 elements, and a tensor of one element.
std::vector<Tensor> many_tensors(DType dtype) {
  std::vector<Tensor> t;
  uint64_t seed = 40;
  for (int64_t n : {1, 8191, 8192, 8193, 3 * 8192 + 5, 50000}) t.push_back(random_tensor({n}, seed++, dtype, -3, 3));
  t.push_back(random_tensor({2, 3, 5, 7}, seed, dtype));
  return t;
}

}  // namespace

TEST_CASE("squared_norm: worked example") {
  const Tensor a = Tensor::from_vector({3, -4}, {2}), b = Tensor::from_vector({12}, {1, 1, 1, 1});
  const Tensor s = squared_norm({a, b});
  CHECK(s.dtype() == DType::kFloat64);
  CHECK(s.shape() == Shape{1});
  CHECK(s.item() == 169.0);  // 9 + 16 + 144
}

TEST_CASE("squared_norm: many tensors and chunks, float32 and float64, against a long double sum") {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    CAPTURE(dtype_name(dtype));
    const std::vector<Tensor> t = many_tensors(dtype);
    const double got = squared_norm(t).item();
    // Each square is exact in double for float32 inputs; the error is that of summing ~100k doubles
    // in chunks (a few ulp), far below 1e-13 relative.
    CHECK(std::fabs(got - static_cast<double>(reference(t))) <= 1e-13 * got);
  }
}

TEST_CASE("squared_norm: the same bits for 1 and 3 threads") {
  const std::vector<Tensor> t = many_tensors(DType::kFloat32);
  const int threads = num_threads();
  set_num_threads(1);
  const double one = squared_norm(t).item();
  set_num_threads(3);
  const double three = squared_norm(t).item();
  set_num_threads(threads);
  CHECK(one == three);
}

TEST_CASE("squared_norm: a NaN or an infinity anywhere gives a non-finite sum; no host read") {
  std::vector<Tensor> t = many_tensors(DType::kFloat32);
  const EngineCounters before = engine_counters();
  const Tensor finite = squared_norm(t);
  CHECK(counters_between(before, engine_counters()).host_reads == 0);
  CHECK(std::isfinite(finite.item()));
  Tensor poisoned = t[4].clone();
  poisoned.data<float>()[20000] = NAN;
  t[4] = poisoned;
  CHECK(std::isnan(squared_norm(t).item()));
  poisoned.data<float>()[20000] = INFINITY;
  CHECK(std::isinf(squared_norm(t).item()));
}

TEST_CASE("squared_norm: bad input") {
  expect_error([] { squared_norm({}); }, {"[squared_norm]", "no tensor"});
  expect_error([] { squared_norm({Tensor::zeros({2}), Tensor::zeros({2}, DType::kFloat64)}); },
               {"[squared_norm]", "float64", "float32"});
  expect_error([] { squared_norm({Tensor::zeros({2}, DType::kUInt8)}); }, {"[squared_norm]", "uint8"});
}

TEST_CASE("squared_norm: CPU and CUDA agree" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  std::vector<Tensor> cpu = many_tensors(DType::kFloat32), gpu;
  // More than one list of tensors (24 per launch).
  for (int i = 0; i < 30; ++i) cpu.push_back(random_tensor({100 + i * 37}, 60 + static_cast<uint64_t>(i), DType::kFloat32));
  for (const Tensor& t : cpu) gpu.push_back(t.to(Device::cuda()));
  const double c = squared_norm(cpu).item(), g = squared_norm(gpu).item();
  // Float64 sums of the same float64 squares in another order inside each chunk: a few ulp.
  CHECK(std::fabs(g - c) <= 1e-13 * c);
  CHECK(squared_norm(gpu).item() == g);  // deterministic run to run
}
