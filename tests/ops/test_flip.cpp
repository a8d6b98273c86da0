// Tests of hflip (engine/ops/flip.h): worked example, flip twice is the identity, float64 gradient
// check, CPU-vs-CUDA parity, bad input.
#include "engine/ops/flip.h"

#include "engine/autograd.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("hflip: worked example, forward and backward") {
  // [1, 1, 2, 3]: each row reversed, rows kept in place.
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {1, 1, 2, 3});
  x.set_requires_grad(true);
  Tensor y = hflip(x);
  CHECK(y.to_vector() == std::vector<double>{3, 2, 1, 6, 5, 4});
  // Loss sum(y * w), w = 10..60: x[h][w] went to y[h][W-1-w], so its gradient is w there, i.e. the
  // weights flipped: [30, 20, 10, 60, 50, 40].
  sum(mul(y, Tensor::from_vector({10, 20, 30, 40, 50, 60}, y.shape()))).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{30, 20, 10, 60, 50, 40});
}

TEST_CASE("hflip: flipping twice is the identity") {
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{1, 2, 4, 1}, Shape{3, 1, 1, 8}}) {
      Tensor x = random_tensor(s, 111, dt);
      Tensor once = hflip(x);
      CHECK(hflip(once).to_vector() == x.to_vector());  // a permutation: exact
      if (s[3] > 1) CHECK(once.to_vector() != x.to_vector());
    }
  }
}

TEST_CASE("hflip: float64 gradient check") {
  check_gradients([](const std::vector<Tensor>& in) { return hflip(in[0]); }, {random_tensor({2, 3, 5, 7}, 121)});
  check_gradients([](const std::vector<Tensor>& in) { return hflip(in[0]); }, {random_tensor({1, 2, 3, 1}, 122)});
}

TEST_CASE("hflip: bad input") {
  expect_error([] { hflip(Tensor::zeros({3, 4, 5})); }, {"[hflip]", "3 dims", "expected 4", "[3, 4, 5]"});
  expect_error([] { hflip(Tensor::zeros({1, 3, 4, 5}, DType::kUInt8)); }, {"[hflip]", "uint8", "float32"});
  expect_error([] { hflip(Tensor()); }, {"[hflip]", "undefined"});
}

TEST_CASE("hflip: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  auto fn = [](const std::vector<Tensor>& in) { return hflip(in[0]); };
  check_cuda_parity(fn, {random_tensor({2, 3, 9, 11}, 131, DType::kFloat32)}, "hflip [2, 3, 9, 11]");
  check_cuda_parity(fn, {random_tensor({3, 2, 5, 1}, 132, DType::kFloat32)}, "hflip [3, 2, 5, 1]");
  check_cuda_parity(fn, {random_tensor({2, 4, 33, 64}, 133, DType::kFloat32)}, "hflip [2, 4, 33, 64]");
}
