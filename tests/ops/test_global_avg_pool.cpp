// Tests of global_avg_pool (engine/ops/global_avg_pool.h): worked example, float64 gradient check,
// CPU-vs-CUDA parity, bad input.
#include "engine/ops/global_avg_pool.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/parallel.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("global_avg_pool: worked example, forward and backward") {
  // Plane (0,0) = {1, 2, 3, 4}: mean 10/4 = 2.5; plane (0,1) = {-1, 0, 5, 8}: mean 12/4 = 3;
  // plane (1,0) = {0.5, 0.5, 0.5, 0.5}: 0.5; plane (1,1) = {-4, 0, 0, 0}: -1.
  Tensor x = Tensor::from_vector({1, 2, 3, 4, -1, 0, 5, 8, 0.5, 0.5, 0.5, 0.5, -4, 0, 0, 0}, {2, 2, 2, 2});
  x.set_requires_grad(true);
  Tensor y = global_avg_pool(x);
  CHECK(y.shape() == Shape{2, 2, 1, 1});
  CHECK(y.to_vector() == std::vector<double>{2.5, 3.0, 0.5, -1.0});
  // L = sum(y * w), w = {1, -2, 4, 0}: dL/dx = w[n, c] / (H * W) = w / 4 over each plane.
  sum(mul(y, Tensor::from_vector({1, -2, 4, 0}, {2, 2, 1, 1}))).backward();
  CHECK(x.grad().to_vector() ==
        std::vector<double>{0.25, 0.25, 0.25, 0.25, -0.5, -0.5, -0.5, -0.5, 1, 1, 1, 1, 0, 0, 0, 0});
}

TEST_CASE("global_avg_pool: large planes match the float64 mean, the same bits at any thread count") {
  // 37 x 41 = 1517 values per plane: 189 rounds of the 8 lane sums and a tail of 5 (cpu/global_avg_pool.cpp).
  const Tensor x = random_tensor({2, 3, 37, 41}, 43, DType::kFloat32);
  const int threads = num_threads();
  set_num_threads(1);
  const Tensor one = global_avg_pool(x);
  set_num_threads(3);
  const Tensor three = global_avg_pool(x);
  set_num_threads(threads);
  CHECK(one.to_vector() == three.to_vector());
  const std::vector<double> v = x.to_vector(), y = one.to_vector();
  for (int64_t plane = 0; plane < 6; ++plane) {
    long double sum = 0;
    for (int64_t i = 0; i < 1517; ++i) sum += v[plane * 1517 + i];
    const double mean = static_cast<double>(sum / 1517);
    CHECK(std::abs(y[plane] - mean) <= 1e-7 * std::max(1.0, std::abs(mean)));  // float32's rounding of it
  }
}

TEST_CASE("global_avg_pool: float64 gradient check") {
  check_gradients([](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); },
                  {random_tensor({2, 3, 5, 7}, 41, DType::kFloat64)});
  check_gradients([](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); },
                  {random_tensor({3, 2, 1, 1}, 42, DType::kFloat64)});
}

TEST_CASE("global_avg_pool: bad input") {
  expect_error([] { global_avg_pool(Tensor::zeros({2, 3, 4})); }, {"[global_avg_pool]", "3 dims", "expected 4"});
  expect_error([] { global_avg_pool(Tensor::zeros({2, 3, 0, 4})); }, {"[global_avg_pool]", "H = 0", "[2, 3, 0, 4]"});
  expect_error([] { global_avg_pool(Tensor::zeros({2, 3, 4, 4}, DType::kUInt8)); }, {"[global_avg_pool]", "uint8"});
  expect_error([] { global_avg_pool(Tensor()); }, {"[global_avg_pool]", "undefined"});
}

TEST_CASE("global_avg_pool: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  auto fn = [](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); };
  for (bool wide : {false, true}) {  // the backward's 32- and 64-bit index arithmetic
    const WideIndicesScope indices(wide);
    const char* how = wide ? " (64-bit indices)" : "";
    check_cuda_parity(fn, {random_tensor({3, 5, 7, 9}, 43, DType::kFloat32)}, cat("global_avg_pool [3,5,7,9]", how));
    // A plane of 17 parts of 4096 values, the last short; exactly one part; one part and 64 values; 1 x 1.
    check_cuda_parity(fn, {random_tensor({2, 3, 257, 259}, 44, DType::kFloat32)},
                      cat("global_avg_pool [2,3,257,259]", how));
    check_cuda_parity(fn, {random_tensor({1, 2, 64, 64}, 47, DType::kFloat32)},
                      cat("global_avg_pool [1,2,64,64]", how));
    check_cuda_parity(fn, {random_tensor({1, 2, 64, 65}, 48, DType::kFloat32)},
                      cat("global_avg_pool [1,2,64,65]", how));
    check_cuda_parity(fn, {random_tensor({2, 7, 1, 1}, 45, DType::kFloat32)}, cat("global_avg_pool [2,7,1,1]", how));
  }
  // Deterministic: two runs give the same bits (one part per plane, and many).
  Tensor x = random_tensor({2, 9, 63, 65}, 46, DType::kFloat32).to(Device::cuda());
  CHECK(global_avg_pool(x).to_vector() == global_avg_pool(x).to_vector());
  x = random_tensor({2, 3, 257, 259}, 49, DType::kFloat32).to(Device::cuda());
  CHECK(global_avg_pool(x).to_vector() == global_avg_pool(x).to_vector());
}
