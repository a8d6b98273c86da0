// Tests of concat (engine/ops/concat.h): worked example, float64 gradient check of every input,
// CPU-vs-CUDA parity, bad input.
#include "engine/ops/concat.h"

#include "engine/autograd.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("concat: worked example, forward and backward") {
  // a [2, 1, 1, 2], b [2, 2, 1, 2]: per sample, a's channel comes first, then b's two channels.
  Tensor a = Tensor::from_vector({1, 2, 3, 4}, {2, 1, 1, 2});
  Tensor b = Tensor::from_vector({10, 11, 12, 13, 14, 15, 16, 17}, {2, 2, 1, 2});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor y = concat({a, b});
  REQUIRE(y.shape() == Shape{2, 3, 1, 2});
  CHECK(y.to_vector() == std::vector<double>{1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17});
  // Loss sum(y * w), w = 1..12: each input's gradient is w at the places its values went to.
  std::vector<double> w;
  for (int i = 1; i <= 12; ++i) w.push_back(i);
  sum(mul(y, Tensor::from_vector(w, y.shape()))).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{1, 2, 7, 8});
  CHECK(b.grad().to_vector() == std::vector<double>{3, 4, 5, 6, 9, 10, 11, 12});
}

TEST_CASE("concat: one input, a zero-channel input, inputs without gradient") {
  Tensor x = random_tensor({2, 3, 2, 2}, 81, DType::kFloat32);
  CHECK(concat({x}).to_vector() == x.to_vector());
  CHECK(!concat({x}).same_data(x));
  Tensor none = Tensor::zeros({2, 0, 2, 2});
  CHECK(concat({none, x, none}).to_vector() == x.to_vector());

  // Only the second input needs a gradient: the first gets none, the second its channel range.
  Tensor a = Tensor::ones({1, 2, 1, 1}), b = Tensor::ones({1, 1, 1, 1});
  b.set_requires_grad(true);
  Tensor y = concat({a, b});
  sum(mul(y, Tensor::from_vector({5, 6, 7}, y.shape()))).backward();
  CHECK(!a.grad().defined());
  CHECK(b.grad().to_vector() == std::vector<double>{7});
}

TEST_CASE("concat: float64 gradient check of every input") {
  check_gradients([](const std::vector<Tensor>& in) { return concat(in); },
                  {random_tensor({2, 3, 3, 5}, 91), random_tensor({2, 1, 3, 5}, 92), random_tensor({2, 4, 3, 5}, 93)});
  check_gradients([](const std::vector<Tensor>& in) { return concat(in); },
                  {random_tensor({3, 2, 1, 7}, 94), random_tensor({3, 5, 1, 7}, 95)});
}

TEST_CASE("concat: bad input") {
  Tensor a = Tensor::zeros({2, 3, 4, 5});
  expect_error([] { concat({}); }, {"[concat]", "empty list"});
  expect_error([&] { concat({a, Tensor::zeros({1, 3, 4, 5})}); },
               {"[concat]", "input 1 has N, H, W = 1, 4, 5, expected 2, 4, 5", "[1, 3, 4, 5]", "[2, 3, 4, 5]"});
  expect_error([&] { concat({a, Tensor::zeros({2, 3, 6, 5})}); }, {"[concat]", "input 1", "2, 6, 5", "[2, 3, 6, 5]"});
  expect_error([&] { concat({a, a, Tensor::zeros({2, 3, 4, 3})}); }, {"[concat]", "input 2", "2, 4, 3"});
  expect_error([&] { concat({a, Tensor::zeros({2, 3, 4, 5}, DType::kFloat64)}); },
               {"[concat]", "input 1 has dtype float64", "input 0 has dtype float32"});
  expect_error([&] { concat({a, Tensor::zeros({2, 3, 4})}); }, {"[concat]", "input 1 has 3 dims", "expected 4"});
  expect_error([&] { concat({Tensor::zeros({2, 3, 4, 5}, DType::kUInt8), a}); }, {"[concat]", "input 0", "uint8"});
  expect_error([&] { concat({a, Tensor()}); }, {"[concat]", "input 1", "undefined"});
}

TEST_CASE("concat: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  auto fn = [](const std::vector<Tensor>& in) { return concat(in); };
  auto r = [](const Shape& s, uint64_t seed) { return random_tensor(s, seed, DType::kFloat32); };
  check_cuda_parity(fn, {r({2, 3, 9, 11}, 101), r({2, 1, 9, 11}, 102), r({2, 5, 9, 11}, 103)}, "concat 3 inputs");
  check_cuda_parity(fn, {r({3, 7, 5, 3}, 104), r({3, 2, 5, 3}, 105)}, "concat 2 inputs");
  ParityOptions only_second;
  only_second.requires_grad = {false, true};
  check_cuda_parity(fn, {r({2, 4, 6, 6}, 106), r({2, 3, 6, 6}, 107)}, "concat, gradient of input 1 only",
                    only_second);
  Tensor on_gpu = Tensor::zeros({1, 1, 2, 2}, DType::kFloat32, Device::cuda());
  expect_error([&] { concat({Tensor::zeros({1, 1, 2, 2}), on_gpu}); },
               {"[concat]", "input 1 is on cuda", "input 0 is on cpu"});
}
