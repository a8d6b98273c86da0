// Tests of maximum (engine/ops/maximum.h): worked example with ties, NaN, float64 gradient check,
// CPU-vs-CUDA parity, bad input.
#include "engine/ops/maximum.h"

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("maximum: worked example with ties, forward and backward") {
  Tensor a = Tensor::from_vector({1.0, -2.0, 3.0, 0.5, -7.0, 2.0}, {2, 3});
  Tensor b = Tensor::from_vector({0.0, 4.0, 3.0, 0.5, -8.0, 2.5}, {2, 3});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor y = maximum(a, b);
  CHECK(y.to_vector() == std::vector<double>{1.0, 4.0, 3.0, 0.5, -7.0, 2.5});
  sum(y).backward();
  // d sum(max(a, b)): 1 to the larger input; at the ties (elements 2 and 3) torch >= 1.7 gives half to
  // each. PyTorch 1.1's torch.max(a, b), which the reference pipeline ran, gave a tie's whole gradient
  // to b instead (grad_a 0, grad_b 1 there); we follow current PyTorch, as the brief asks.
  CHECK(a.grad().to_vector() == std::vector<double>{1.0, 0.0, 0.5, 0.5, 1.0, 0.0});
  CHECK(b.grad().to_vector() == std::vector<double>{0.0, 1.0, 0.5, 0.5, 0.0, 1.0});
}

TEST_CASE("maximum: NaN propagates") {
  // torch.maximum returns NaN if either input is NaN. Its gradient formula (where(a == b, g/2, g),
  // zeroed where the other input is larger) gives both inputs the full gradient there.
  double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    Tensor a = Tensor::from_vector({nan, 1.0, nan}, {3}, dt);
    Tensor b = Tensor::from_vector({1.0, nan, nan}, {3}, dt);
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    Tensor y = maximum(a, b);
    for (double v : y.to_vector()) CHECK(std::isnan(v));
    sum(y).backward();
    CHECK(a.grad().to_vector() == std::vector<double>{1.0, 1.0, 1.0});
    CHECK(b.grad().to_vector() == std::vector<double>{1.0, 1.0, 1.0});
  }
}

TEST_CASE("maximum: float64 gradient check") {
  // b = a +- d with d in [0.05, 1] and a random sign: |a - b| >= 0.05 everywhere, so no tie (where the
  // gradient is not differentiable) lies within eps of any element.
  Tensor a = random_tensor({2, 3, 5, 7}, 31, DType::kFloat64);
  std::vector<double> av = a.to_vector(), dv = random_tensor(a.shape(), 32, DType::kFloat64, 0.05, 1.0).to_vector();
  Rng signs(33);
  std::vector<double> bv(av.size());
  for (size_t i = 0; i < av.size(); ++i) bv[i] = av[i] + (signs.uniform() < 0.5 ? -dv[i] : dv[i]);
  Tensor b = Tensor::from_vector(bv, a.shape(), DType::kFloat64);
  check_gradients([](const std::vector<Tensor>& in) { return maximum(in[0], in[1]); }, {a, b});
}

TEST_CASE("maximum: bad input") {
  Tensor a = Tensor::zeros({2, 3, 4, 4});
  Tensor b_wide = Tensor::zeros({2, 3, 4, 5});
  expect_error([&] { maximum(a, b_wide); }, {"[maximum]", "b has shape [2, 3, 4, 5]", "[2, 3, 4, 4]"});
  expect_error([&] { maximum(a, Tensor::zeros({2, 3, 4, 4}, DType::kFloat64)); }, {"[maximum]", "float64", "float32"});
  expect_error([&] { maximum(Tensor::zeros({2}, DType::kUInt8), Tensor::zeros({2}, DType::kUInt8)); },
               {"[maximum]", "uint8"});
  expect_error([&] { maximum(a, Tensor()); }, {"[maximum]", "undefined"});
}

TEST_CASE("maximum: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  auto fn = [](const std::vector<Tensor>& in) { return maximum(in[0], in[1]); };
  // Every 5th element a tie, so the halved gradient is compared too (it is exact on both sides).
  Tensor a = random_tensor({3, 5, 7, 9}, 34, DType::kFloat32);
  std::vector<double> av = a.to_vector(), bv = random_tensor(a.shape(), 35, DType::kFloat32).to_vector();
  for (size_t i = 0; i < av.size(); i += 5) bv[i] = av[i];
  Tensor b = Tensor::from_vector(bv, a.shape());
  check_cuda_parity(fn, {a, b}, "maximum [3,5,7,9] with ties");
  check_cuda_parity(
      fn, {random_tensor({2, 3, 33, 65}, 36, DType::kFloat32), random_tensor({2, 3, 33, 65}, 37, DType::kFloat32)},
      "maximum [2,3,33,65]");
  // Only b needs a gradient: the kernel must skip grad_a.
  ParityOptions only_b;
  only_b.requires_grad = {false, true};
  check_cuda_parity(fn, {a, b}, "maximum, gradient of b only", only_b);
  double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor na = Tensor::from_vector({nan, 1.0, 2.0}, {3}), nb = Tensor::from_vector({1.0, nan, 1.0}, {3});
  std::vector<double> v = maximum(na.to(Device::cuda()), nb.to(Device::cuda())).to_vector();
  CHECK(std::isnan(v[0]));
  CHECK(std::isnan(v[1]));
  CHECK(v[2] == 2.0);
}
