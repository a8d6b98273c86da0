// Tests of sum and mean (engine/ops/reduce.h): worked example, float64 gradient check, determinism
// across thread counts, CPU-vs-CUDA parity, bad input.
#include "engine/ops/reduce.h"

#include "engine/parallel.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("sum and mean: worked example") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad(true);
  Tensor s = sum(x);
  CHECK(s.ndim() == 0);
  CHECK(s.item() == 21.0);
  CHECK(mean(x).item() == 3.5);
  mean(x).backward();
  for (double g : x.grad().to_vector()) CHECK(g == doctest::Approx(1.0 / 6));
}

TEST_CASE("sum and mean: float64 gradient check") {
  check_gradients([](const std::vector<Tensor>& in) { return sum(in[0]); }, {random_tensor({3, 4, 5}, 51)});
  check_gradients([](const std::vector<Tensor>& in) { return mean(in[0]); }, {random_tensor({3, 4, 5}, 52)});
}

TEST_CASE("sum: bit-identical for any thread count") {
  Tensor x = random_tensor({3, 7, 101, 97}, 53, DType::kFloat32);
  int saved = num_threads();
  set_num_threads(1);
  double one = sum(x).item();
  set_num_threads(3);
  double three = sum(x).item();
  set_num_threads(saved);
  CHECK(one == three);
}

TEST_CASE("sum and mean: bad input") {
  expect_error([] { sum(Tensor::zeros({0, 3})); }, {"[sum]", "no elements"});
  expect_error([] { mean(Tensor::zeros({2}, DType::kUInt8)); }, {"[mean]", "uint8"});
}

TEST_CASE("sum and mean: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_cuda_parity([](const std::vector<Tensor>& in) { return sum(in[0]); }, {random_tensor({3, 5, 7, 9}, 54)}, "sum");
  check_cuda_parity([](const std::vector<Tensor>& in) { return mean(in[0]); }, {random_tensor({2, 3, 301, 257}, 55)},
                    "mean large");
}
