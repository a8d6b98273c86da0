// Tests of bf16_storage (engine/ops/bf16_storage.h): worked bits, the store's rounding equal to round_bf16's on
// random values over the whole exponent range, the round trip lossless on bfloat16 values, CPU-vs-CUDA and bad
// input. No autograd, so no gradient check.
#include "engine/ops/bf16_storage.h"

#include <cmath>
#include <limits>

#include "engine/random.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

std::vector<uint16_t> bits_of(const Tensor& stored) {
  const Tensor host = stored.to(Device::cpu());
  const auto* p = static_cast<const uint16_t*>(host.raw());
  return std::vector<uint16_t>(p, p + host.numel());
}

// Random values with exponents from 2^-130 to 2^120: subnormals, ties and large values included.
Tensor spread_values(uint64_t seed, int n) {
  Rng rng(seed);
  std::vector<double> v;
  for (int i = 0; i < n; ++i)
    v.push_back((rng.uniform() - 0.5) * std::ldexp(1.0, static_cast<int>(rng.below(250)) - 130));
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
}

}  // namespace

TEST_CASE("bf16_storage: worked bits") {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x =
      Tensor::from_vector({1.0, -2.5, 1.0 + 0x1p-8, 1.0 + 3 * 0x1p-8, 0x1.ff8p0, 3.4e38, -inf, 0.0}, {2, 4});
  const Tensor s = to_bf16_storage(x);
  CHECK(s.dtype() == DType::kBFloat16);
  CHECK(s.shape() == x.shape());
  CHECK(s.nbytes() == 16);
  // 1 = 0x3f80; -2.5 = 0xc020; 1 + 2^-8 ties to the even 1; 1 + 3 * 2^-8 ties to the even 1 + 2^-6 (0x3f82);
  // 0x1.ff8p0 carries into the exponent: 2 = 0x4000; 3.4e38 overflows to infinity (0x7f80); -inf (0xff80); 0.
  CHECK(bits_of(s) == std::vector<uint16_t>{0x3f80, 0xc020, 0x3f80, 0x3f82, 0x4000, 0x7f80, 0xff80, 0x0000});
  const Tensor back = from_bf16_storage(s);
  CHECK(back.dtype() == DType::kFloat32);
  CHECK(back.shape() == x.shape());
  CHECK(back.to_vector() == std::vector<double>{1.0, -2.5, 1.0, 1.0 + 0x1p-6, 2.0, inf, -inf, 0.0});
  const Tensor nan = to_bf16_storage(Tensor::from_vector({std::numeric_limits<double>::quiet_NaN()}, {1}));
  CHECK(std::isnan(from_bf16_storage(nan).item()));
}

TEST_CASE("bf16_storage: stored and widened equals round_bf16, and a second round trip changes nothing") {
  const Tensor x = spread_values(81, 20000);
  const Tensor once = from_bf16_storage(to_bf16_storage(x));
  CHECK(once.to_vector() == round_bf16(x).to_vector());
  CHECK(from_bf16_storage(to_bf16_storage(once)).to_vector() == once.to_vector());
}

TEST_CASE("bf16_storage: bad input") {
  expect_error([] { to_bf16_storage(Tensor::zeros({2}, DType::kFloat64)); },
               {"[to_bf16_storage]", "float64", "expected float32"});
  expect_error([] { from_bf16_storage(Tensor::zeros({2})); }, {"[from_bf16_storage]", "float32", "expected bfloat16"});
  expect_error([] { to_bf16_storage(Tensor()); }, {"[to_bf16_storage]"});
}

TEST_CASE("bf16_storage: CPU and CUDA give the same bits" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Tensor x = spread_values(82, 100000);
  const Tensor c = to_bf16_storage(x), g = to_bf16_storage(x.to(Device::cuda()));
  CHECK(g.device().is_cuda());
  CHECK(bits_of(c) == bits_of(g));
  CHECK(from_bf16_storage(g).to_vector() == from_bf16_storage(c).to_vector());
}
