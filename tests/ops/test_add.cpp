// Tests of add (engine/ops/add.h): worked example, float64 gradient check, CPU-vs-CUDA parity, bad input.
#include "engine/ops/add.h"

#include "engine/autograd.h"
#include "engine/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("add: worked example") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor b = Tensor::from_vector({10, -20, 0.5, -4}, {1, 1, 2, 2});
  CHECK(add(a, b).to_vector() == std::vector<double>{11, -18, 3.5, 0});
}

TEST_CASE("add: a temporary that nothing records is overwritten, a shared one is not") {
  const Tensor a = random_tensor({2, 3, 4, 5}, 23, DType::kFloat32), b = random_tensor({2, 3, 4, 5}, 24, DType::kFloat32);
  const std::vector<double> expected = add(a, b).to_vector(), a_before = a.to_vector();
  const NoGradGuard no_grad;
  Tensor temporary = a.clone();
  const void* buffer = temporary.raw();
  Tensor sum_ab = add(std::move(temporary), b);
  CHECK(sum_ab.raw() == buffer);
  CHECK(sum_ab.to_vector() == expected);
  Tensor shared = a;
  Tensor other = add(std::move(shared), b);
  CHECK(other.raw() != a.raw());
  CHECK(other.to_vector() == expected);
  CHECK(a.to_vector() == a_before);
  // Checks still run on the in-place path.
  expect_error([&] { add(a.clone(), Tensor::zeros({2, 3}, DType::kFloat32)); }, {"[add]", "shape"});
}

TEST_CASE("add: a temporary without a gradient plus one that needs it records the op") {
  Tensor b = random_tensor({2, 3}, 25, DType::kFloat32);
  b.set_requires_grad(true);
  Tensor sum_ab = add(random_tensor({2, 3}, 26, DType::kFloat32), b);
  REQUIRE(sum_ab.requires_grad());
  sum(sum_ab).backward();
  REQUIRE(b.grad().defined());
  CHECK(b.grad().to_vector() == std::vector<double>(6, 1.0));
}

TEST_CASE("add: float64 gradient check") {
  check_gradients([](const std::vector<Tensor>& in) { return add(in[0], in[1]); },
                  {random_tensor({2, 3, 4, 5}, 21), random_tensor({2, 3, 4, 5}, 22)});
}

TEST_CASE("add: bad input") {
  expect_error([] { add(Tensor::zeros({2, 3}), Tensor::zeros({3, 2})); }, {"[add]", "[3, 2]", "[2, 3]"});
  expect_error([] { add(Tensor::zeros({2}), Tensor::zeros({2}, DType::kFloat64)); }, {"[add]", "float64", "float32"});
  expect_error([] { add(Tensor::zeros({2}, DType::kInt64), Tensor::zeros({2}, DType::kInt64)); }, {"[add]", "int64"});
}

TEST_CASE("add: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_cuda_parity([](const std::vector<Tensor>& in) { return add(in[0], in[1]); },
                    {random_tensor({3, 5, 7, 9}, 23), random_tensor({3, 5, 7, 9}, 24)}, "add");
  expect_error([] { add(Tensor::zeros({2}), Tensor::zeros({2}).to(Device::cuda())); }, {"[add]", "cuda:0", "cpu"});
}

TEST_CASE("add: in place on a CUDA temporary equals the CPU" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Tensor a = random_tensor({3, 5, 7, 9}, 25, DType::kFloat32), b = random_tensor({3, 5, 7, 9}, 26, DType::kFloat32);
  const NoGradGuard no_grad;
  Tensor temporary = a.to(Device::cuda());
  const void* buffer = temporary.raw();
  Tensor sum_ab = add(std::move(temporary), b.to(Device::cuda()));
  CHECK(sum_ab.raw() == buffer);
  CHECK(sum_ab.to_vector() == add(a, b).to_vector());
}
