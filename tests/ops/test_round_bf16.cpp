// Tests of round_bf16 (engine/ops/round_bf16.h): worked values (ties to even, the carry into the exponent,
// overflow to infinity, NaN, subnormals), random values against a rounding computed another way, in place,
// CPU-vs-CUDA and bad input. No autograd, so no gradient check.
#include "engine/ops/round_bf16.h"

#include <cmath>
#include <limits>

#include "engine/random.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

float rounded(float v) { return round_bf16(Tensor::from_vector({v}, {1})).data<float>()[0]; }

// The nearest bfloat16 by another road: the two bfloat16 neighbours of v (truncation and the next one up
// in magnitude), compared in double; a tie goes to the one whose last kept bit is 0.
float nearest_bf16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  const uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
  float flo, fhi;
  std::memcpy(&flo, &lo, 4);
  std::memcpy(&fhi, &hi, 4);
  const double dlo = std::fabs(static_cast<double>(v) - flo), dhi = std::fabs(static_cast<double>(fhi) - v);
  if (dlo < dhi) return flo;
  if (dhi < dlo) return fhi;
  return ((lo >> 16) & 1u) == 0 ? flo : fhi;
}

}  // namespace

TEST_CASE("round_bf16: worked values") {
  CHECK(rounded(1.0f) == 1.0f);
  CHECK(rounded(-2.5f) == -2.5f);  // 8 significant bits suffice
  // bfloat16 keeps 7 fraction bits: the spacing above 1 is 2^-7.
  CHECK(rounded(1.0f + 0x1p-8f) == 1.0f);                      // halfway, to the even neighbour 1
  CHECK(rounded(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);        // halfway, to the even neighbour 1 + 2^-6
  CHECK(rounded(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);  // above halfway
  CHECK(rounded(1.0f + 0x1p-9f) == 1.0f);                      // below halfway
  CHECK(rounded(0x1.ff8p0f) == 2.0f);                          // the carry moves into the exponent
  CHECK(rounded(3.4e38f) == std::numeric_limits<float>::infinity());  // beyond bfloat16's 3.39e38
  CHECK(rounded(-std::numeric_limits<float>::infinity()) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(rounded(std::numeric_limits<float>::quiet_NaN())));
  const float sub = 0x1.23p-130f;  // a subnormal: rounded on the same grid
  CHECK(rounded(sub) == nearest_bf16(sub));
}

TEST_CASE("round_bf16: random values over the whole exponent range equal the nearest bfloat16, ties to even") {
  Rng rng(71);
  std::vector<double> v;
  for (int i = 0; i < 20000; ++i) v.push_back((rng.uniform() - 0.5) * std::ldexp(1.0, static_cast<int>(rng.below(250)) - 125));
  const Tensor x = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
  const Tensor r = round_bf16(x);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float xi = x.data<float>()[i];
    CAPTURE(xi);
    CHECK(r.data<float>()[i] == nearest_bf16(xi));
  }
  Tensor in_place = x.clone();
  round_bf16_inplace(in_place);
  CHECK(in_place.to_vector() == r.to_vector());
}

TEST_CASE("round_bf16: bad input") {
  expect_error([] { round_bf16(Tensor::zeros({2}, DType::kFloat64)); }, {"[round_bf16]", "float64", "expected float32"});
  expect_error([] { round_bf16(Tensor()); }, {"[round_bf16]"});
}

TEST_CASE("round_bf16: CPU and CUDA give the same bits" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  Rng rng(72);
  std::vector<double> v;
  for (int i = 0; i < 100000; ++i) v.push_back((rng.uniform() - 0.5) * std::ldexp(1.0, static_cast<int>(rng.below(60)) - 30));
  v.push_back(std::numeric_limits<double>::quiet_NaN());
  v.push_back(3.4e38);
  const Tensor x = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
  const std::vector<double> c = round_bf16(x).to_vector(), g = round_bf16(x.to(Device::cuda())).to_vector();
  for (size_t i = 0; i < c.size(); ++i) CHECK((c[i] == g[i] || (std::isnan(c[i]) && std::isnan(g[i]))));
}
