// Tests of sigmoid (engine/ops/sigmoid.h): worked example, large |x|, float64 gradient check,
// CPU-vs-CUDA parity, bad input.
#include "engine/ops/sigmoid.h"

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("sigmoid: worked example, forward and backward") {
  // sigmoid(0) = 1/2; sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4; sigmoid(-ln 3) = 1/4;
  // sigmoid(2) = 1 / (1 + e^-2) = 0.8807970779778823 (and sigmoid(-2) = 1 - that).
  // d sum(y) / dx = y (1 - y): 1/4, 3/16, 3/16, 0.8807970779778823 * 0.11920292202211755.
  double ln3 = std::log(3.0);
  Tensor x = Tensor::from_vector({0.0, ln3, -ln3, 2.0, -2.0}, {5}, DType::kFloat64);
  x.set_requires_grad(true);
  Tensor y = sigmoid(x);
  Tensor expected =
      Tensor::from_vector({0.5, 0.75, 0.25, 0.8807970779778823, 0.11920292202211755}, {5}, DType::kFloat64);
  // 1e-15: a few double roundings of exp and one division.
  expect_close(y, expected, 1e-15, 0.0, "sigmoid forward");
  sum(y).backward();
  double g2 = 0.8807970779778823 * 0.11920292202211755;
  expect_close(x.grad(), Tensor::from_vector({0.25, 0.1875, 0.1875, g2, g2}, {5}, DType::kFloat64), 1e-14, 0.0,
               "sigmoid backward");
}

TEST_CASE("sigmoid: large |x| saturates without overflow or NaN") {
  // exp is only ever taken of -|x|: x = +-1000 gives exactly 1 and 0 (exp(1000) would be inf, and
  // e / (1 + e) would then be NaN). NaN stays NaN. The gradient there is exactly 0.
  double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    Tensor x = Tensor::from_vector({1000.0, -1000.0, 88.0, -88.0, 1e30, -1e30, nan}, {7}, dt);
    x.set_requires_grad(true);
    Tensor y = sigmoid(x);
    std::vector<double> v = y.to_vector();
    CHECK(v[0] == 1.0);
    CHECK(v[1] == 0.0);
    CHECK(v[2] == 1.0);  // 1 / (1 + e^-88): e^-88 is below half an ulp of 1, in float and in double
    CHECK(v[3] > 0.0);   // e^-88 / (1 + e^-88) = 6e-39 (a float subnormal), not flushed to NaN
    CHECK(v[3] < 1e-37);
    CHECK(v[4] == 1.0);
    CHECK(v[5] == 0.0);
    CHECK(std::isnan(v[6]));
    sum(y).backward();
    std::vector<double> g = x.grad().to_vector();
    for (int i = 0; i < 6; ++i) {
      CHECK(std::isfinite(g[i]));
      CHECK(g[i] >= 0.0);
      CHECK(g[i] < 1e-37);
    }
  }
}

TEST_CASE("sigmoid: float64 gradient check") {
  check_gradients([](const std::vector<Tensor>& in) { return sigmoid(in[0]); },
                  {random_tensor({2, 3, 5, 7}, 21, DType::kFloat64, -4.0, 4.0)});
}

TEST_CASE("sigmoid: bad input") {
  expect_error([] { sigmoid(Tensor::zeros({2, 2}, DType::kUInt8)); }, {"[sigmoid]", "uint8", "float32"});
  expect_error([] { sigmoid(Tensor()); }, {"[sigmoid]", "undefined"});
}

TEST_CASE("sigmoid: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  auto fn = [](const std::vector<Tensor>& in) { return sigmoid(in[0]); };
  // Forward and backward on [-2, 2]: there y (1 - y) >= 0.1, so a one-ulp difference between CUDA's
  // expf and the CPU's exp moves grad_x by well under 1e-5 relative. (Near saturation 1 - y loses
  // digits and the gradient would compare the two exps' last bits, not the kernels.)
  check_cuda_parity(fn, {random_tensor({3, 5, 7, 9}, 22, DType::kFloat32, -2.0, 2.0)}, "sigmoid [3,5,7,9]");
  check_cuda_parity(fn, {random_tensor({2, 3, 33, 65}, 23, DType::kFloat32, -2.0, 2.0)}, "sigmoid [2,3,33,65]");
  // Forward alone over a wide range, where y saturates.
  ParityOptions forward_only;
  forward_only.requires_grad = {false};
  check_cuda_parity(fn, {random_tensor({3, 4, 17, 19}, 24, DType::kFloat32, -40.0, 40.0)}, "sigmoid wide",
                    forward_only);
  // Saturation and NaN on the GPU itself.
  Tensor x = Tensor::from_vector({1000.0, -1000.0, std::numeric_limits<double>::quiet_NaN()}, {3});
  std::vector<double> v = sigmoid(x.to(Device::cuda())).to_vector();
  CHECK(v[0] == 1.0);
  CHECK(v[1] == 0.0);
  CHECK(std::isnan(v[2]));
}
