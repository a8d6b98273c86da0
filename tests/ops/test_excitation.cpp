// Tests of excitation (engine/ops/excitation.h): a hand-worked gate and its gradients (a live and a dead
// hidden unit), agreement with the composition conv2d, relu, conv2d, sigmoid (forward and backward, float32
// and float64), float64 gradient check of all five inputs, NaN propagation, CPU-vs-CUDA parity, bad input.
#include "engine/ops/excitation.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "engine/ops/sigmoid.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

double sig(double z) { return 1.0 / (1.0 + std::exp(-z)); }

Tensor composed(const Tensor& pooled, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2) {
  return sigmoid(conv2d(relu(conv2d(pooled, w1, b1)), w2, b2));
}

// pooled, w1, b1, w2, b2 for N images, C channels, R hidden units, random with seeds from `seed`.
std::vector<Tensor> random_inputs(int64_t N, int64_t C, int64_t R, uint64_t seed, DType dtype) {
  return {random_tensor({N, C, 1, 1}, seed, dtype), random_tensor({R, C, 1, 1}, seed + 1, dtype),
          random_tensor({R}, seed + 2, dtype), random_tensor({C, R, 1, 1}, seed + 3, dtype),
          random_tensor({C}, seed + 4, dtype)};
}

Tensor excitation_of(const std::vector<Tensor>& in) { return excitation(in[0], in[1], in[2], in[3], in[4]); }

}  // namespace

TEST_CASE("excitation: worked example, a live and a dead hidden unit, and its gradients") {
  // N = 1, C = 2, R = 1. pooled = [1, -2]; w1 = [0.5, 0.25], b1 = 0.5: z1 = 0.5 - 0.5 + 0.5 = 0.5, hidden 0.5.
  // w2 = [2, -4], b2 = [0, 1]: z2 = [1, -1], gate = [sigmoid(1), sigmoid(-1)].
  const DType f64 = DType::kFloat64;
  const Tensor pooled = Tensor::from_vector({1, -2}, {1, 2, 1, 1}, f64);
  const Tensor w1 = Tensor::from_vector({0.5, 0.25}, {1, 2, 1, 1}, f64), b1 = Tensor::from_vector({0.5}, {1}, f64);
  const Tensor w2 = Tensor::from_vector({2, -4}, {2, 1, 1, 1}, f64), b2 = Tensor::from_vector({0, 1}, {2}, f64);
  std::vector<double> gate = excitation(pooled, w1, b1, w2, b2).to_vector();
  CHECK(gate[0] == doctest::Approx(sig(1)).epsilon(1e-15));
  CHECK(gate[1] == doctest::Approx(sig(-1)).epsilon(1e-15));
  // b1 = -1: z1 = -1, the hidden unit is dead (0), and the gate is sigmoid(b2) = [0.5, sigmoid(1)].
  gate = excitation(pooled, w1, Tensor::from_vector({-1}, {1}, f64), w2, b2).to_vector();
  CHECK(gate[0] == 0.5);
  CHECK(gate[1] == doctest::Approx(sig(1)).epsilon(1e-15));

  // Gradients of gate[0] alone (grad_gate = [1, 0]), with s = sigmoid(1) s (1 - s):
  //   d2 = [s', 0]; d1 = w2[0] d2[0] = 2 s'; grad_b2 = d2; grad_w2 = d2 * hidden = [0.5 s', 0];
  //   grad_b1 = d1; grad_w1 = d1 * pooled = [2 s', -4 s']; grad_pooled = w1 * d1 = [s', 0.5 s'].
  std::vector<Tensor> in = {pooled.clone(), w1.clone(), b1.clone(), w2.clone(), b2.clone()};
  for (Tensor& t : in) t.set_requires_grad(true);
  sum(mul(excitation_of(in), Tensor::from_vector({1, 0}, {1, 2, 1, 1}, f64))).backward();
  const double s = sig(1) * (1 - sig(1));
  auto near = [](const Tensor& got, const std::vector<double>& want) {
    const std::vector<double> v = got.to_vector();
    REQUIRE(v.size() == want.size());
    for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == doctest::Approx(want[i]).epsilon(1e-14));
  };
  near(in[4].grad(), {s, 0});
  near(in[3].grad(), {0.5 * s, 0});
  near(in[2].grad(), {2 * s});
  near(in[1].grad(), {2 * s, -4 * s});
  near(in[0].grad(), {s, 0.5 * s});
}

TEST_CASE("excitation: equals conv2d, relu, conv2d, sigmoid, forward and backward") {
  uint64_t seed = 11;
  for (DType dt : {DType::kFloat64, DType::kFloat32}) {
    // float64: rounding only; float32: the composition rounds each stage to float, the op once per stage
    // after a double sum.
    const double tol = dt == DType::kFloat64 ? 1e-13 : 2e-6;
    std::vector<Tensor> fused = random_inputs(3, 12, 5, seed, dt), plain;
    seed += 10;
    for (Tensor& t : fused) {
      t.set_requires_grad(true);
      plain.push_back(t.detach().clone());
      plain.back().set_requires_grad(true);
    }
    const Tensor weights = random_tensor({3, 12, 1, 1}, seed++, dt);
    Tensor a = excitation_of(fused), b = composed(plain[0], plain[1], plain[2], plain[3], plain[4]);
    expect_close(a, b, tol, tol, "gate");
    sum(mul(a, weights)).backward();
    sum(mul(b, weights)).backward();
    for (size_t k = 0; k < fused.size(); ++k) expect_close(fused[k].grad(), plain[k].grad(), tol, tol, cat("grad ", k));
  }
}

TEST_CASE("excitation: float64 gradient check of every input") {
  uint64_t seed = 31;
  for (const auto& [N, C, R] : {std::tuple<int64_t, int64_t, int64_t>{2, 6, 3}, {1, 4, 4}, {3, 1, 1}}) {
    CAPTURE(C);
    check_gradients(excitation_of, random_inputs(N, C, R, seed, DType::kFloat64));
    seed += 10;
  }
}

TEST_CASE("excitation: a NaN in the input gives NaN gates, not a silent zero") {
  std::vector<Tensor> in = random_inputs(2, 4, 2, 51, DType::kFloat32);
  in[0].data<float>()[5] = NAN;  // image 1, channel 1
  const std::vector<double> gate = excitation_of(in).to_vector();
  for (int c = 0; c < 4; ++c) {
    CHECK_FALSE(std::isnan(gate[c]));     // image 0 is untouched
    CHECK(std::isnan(gate[4 + c]));        // every gate of image 1
  }
}

TEST_CASE("excitation: bad input") {
  const std::vector<Tensor> ok = random_inputs(2, 4, 2, 61, DType::kFloat32);
  auto with = [&](size_t k, Tensor t) {
    std::vector<Tensor> in = ok;
    in[k] = std::move(t);
    return in;
  };
  expect_error([&] { excitation_of(with(0, Tensor::zeros({2, 4, 2, 1}))); },
               {"[excitation]", "pooled has shape [2, 4, 2, 1]", "expected [2, 4, 1, 1]", "global_avg_pool"});
  expect_error([&] { excitation_of(with(1, Tensor::zeros({2, 3, 1, 1}))); },
               {"[excitation]", "w1 has shape [2, 3, 1, 1]", "expected [2, 4, 1, 1]"});
  expect_error([&] { excitation_of(with(2, Tensor::zeros({3}))); }, {"[excitation]", "b1 has shape [3]", "expected [2]"});
  expect_error([&] { excitation_of(with(3, Tensor::zeros({4, 3, 1, 1}))); },
               {"[excitation]", "w2 has shape [4, 3, 1, 1]", "expected [4, 2, 1, 1]"});
  expect_error([&] { excitation_of(with(4, Tensor::zeros({2}))); }, {"[excitation]", "b2 has shape [2]", "expected [4]"});
  expect_error([&] { excitation_of(with(3, Tensor::zeros({4, 2, 1, 1}, DType::kFloat64))); },
               {"[excitation]", "w2", "float64"});
  expect_error([&] { excitation_of(with(0, Tensor::zeros({2, 4}))); }, {"[excitation]", "pooled", "2 dims", "expected 4"});
  expect_error([&] { excitation_of(with(1, Tensor::zeros({0, 4, 1, 1}))); }, {"[excitation]", "no image, channel or hidden unit"});
}

TEST_CASE("excitation: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  uint64_t seed = 71;
  // The SE-ResNeXt encoder's widest block (2048 channels, reduction 16) and the SCSE decoder's (reduction 2).
  for (const auto& [N, C, R] : {std::tuple<int64_t, int64_t, int64_t>{4, 2048, 128}, {2, 64, 32}, {3, 5, 1}}) {
    check_cuda_parity(excitation_of, random_inputs(N, C, R, seed, DType::kFloat32), cat("excitation C ", C, " R ", R));
    seed += 10;
  }
}
