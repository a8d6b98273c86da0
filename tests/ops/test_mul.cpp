// Tests of mul (engine/ops/mul.h) in its three forms: same shape, channel gate [N,C,1,1], spatial gate
// [N,1,H,W]. Worked examples, float64 gradient checks, CPU-vs-CUDA parity, bad input.
#include "engine/ops/mul.h"

#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
Tensor mul_fn(const std::vector<Tensor>& in) { return mul(in[0], in[1]); }
}  // namespace

TEST_CASE("mul: worked examples of the three broadcasts") {
  // x = [[1,2],[3,4]] in channel 0 and [[5,6],[7,8]] in channel 1, batch 1.
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 2, 2});
  Tensor same = Tensor::from_vector({2, 2, 2, 2, -1, -1, -1, -1}, {1, 2, 2, 2});
  CHECK(mul(x, same).to_vector() == std::vector<double>{2, 4, 6, 8, -5, -6, -7, -8});
  Tensor channel = Tensor::from_vector({10, 0.5}, {1, 2, 1, 1});
  CHECK(mul(x, channel).to_vector() == std::vector<double>{10, 20, 30, 40, 2.5, 3, 3.5, 4});
  Tensor spatial = Tensor::from_vector({1, 0, -1, 2}, {1, 1, 2, 2});
  CHECK(mul(x, spatial).to_vector() == std::vector<double>{1, 0, -3, 8, 5, 0, -7, 16});
}

TEST_CASE("mul: float64 gradient checks") {
  SUBCASE("same shape") { check_gradients(mul_fn, {random_tensor({2, 3, 4, 5}, 31), random_tensor({2, 3, 4, 5}, 32)}); }
  SUBCASE("channel gate") { check_gradients(mul_fn, {random_tensor({2, 3, 4, 5}, 33), random_tensor({2, 3, 1, 1}, 34)}); }
  SUBCASE("spatial gate") { check_gradients(mul_fn, {random_tensor({2, 3, 4, 5}, 35), random_tensor({2, 1, 4, 5}, 36)}); }
  SUBCASE("other ranks, same shape") { check_gradients(mul_fn, {random_tensor({7}, 37), random_tensor({7}, 38)}); }
}

TEST_CASE("mul: bad input") {
  expect_error([] { mul(Tensor::zeros({2, 3, 4, 4}), Tensor::zeros({2, 3, 4, 1})); },
               {"[mul]", "[2, 3, 4, 1]", "[2, 3, 4, 4]", "[2, 3, 1, 1]", "[2, 1, 4, 4]"});
  expect_error([] { mul(Tensor::zeros({2, 3, 4, 4}), Tensor::zeros({1, 3, 1, 1})); }, {"[mul]", "[1, 3, 1, 1]"});
  expect_error([] { mul(Tensor::zeros({2}), Tensor::zeros({2}, DType::kFloat64)); }, {"[mul]", "float64"});
}

TEST_CASE("mul: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_cuda_parity(mul_fn, {random_tensor({3, 5, 7, 9}, 41), random_tensor({3, 5, 7, 9}, 42)}, "mul same");
  check_cuda_parity(mul_fn, {random_tensor({3, 5, 7, 9}, 43), random_tensor({3, 5, 1, 1}, 44)}, "mul channel");
  check_cuda_parity(mul_fn, {random_tensor({3, 5, 7, 9}, 45), random_tensor({3, 1, 7, 9}, 46)}, "mul spatial");
  check_cuda_parity(mul_fn, {random_tensor({2, 64, 33, 31}, 47), random_tensor({2, 64, 1, 1}, 48)}, "mul channel large");
}
