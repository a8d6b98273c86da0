// Tests of adam_step (engine/ops/adam.h): a worked example, bad input, and CPU-vs-CUDA equality. It is an
// in-place update with no autograd, so it has no gradient check; tests/train/test_optimizer.cpp compares
// whole Adam runs with values recorded from PyTorch.
#include "engine/ops/adam.h"

#include <cmath>

#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("adam_step: worked example, two steps") {
  // One element, float64: p = 1, g = 0.5 then -0.25, lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01.
  Tensor p = Tensor::from_vector({1.0}, {1}, DType::kFloat64);
  Tensor m = Tensor::zeros({1}, DType::kFloat64), v = Tensor::zeros({1}, DType::kFloat64);
  AdamStep s{.lr = 0.1, .weight_decay = 0.01, .step = 1};
  adam_step(p, Tensor::from_vector({0.5}, {1}, DType::kFloat64), m, v, s);
  // g = 0.5 + 0.01 * 1 = 0.51; m = 0.051; v = 0.001 * 0.2601 = 2.601e-4
  // p = 1 - 0.1 / 0.1 * 0.051 / (sqrt(2.601e-4) / sqrt(0.001) + 1e-8) = 1 - 0.051 / (0.51 + 1e-8)
  double p1 = 1.0 - 0.051 / (0.51 + 1e-8);
  CHECK(m.item() == doctest::Approx(0.051).epsilon(1e-15));
  CHECK(v.item() == doctest::Approx(2.601e-4).epsilon(1e-15));
  CHECK(p.item() == doctest::Approx(p1).epsilon(1e-15));
  s.step = 2;
  adam_step(p, Tensor::from_vector({-0.25}, {1}, DType::kFloat64), m, v, s);
  double g2 = -0.25 + 0.01 * p1;
  double m2 = 0.9 * 0.051 + 0.1 * g2, v2 = 0.999 * 2.601e-4 + 0.001 * g2 * g2;
  double p2 = p1 - 0.1 / (1 - 0.81) * m2 / (std::sqrt(v2) / std::sqrt(1 - 0.999 * 0.999) + 1e-8);
  CHECK(p.item() == doctest::Approx(p2).epsilon(1e-14));
}

TEST_CASE("adam_step: grad_scale multiplies the gradient before weight decay") {
  Tensor a = Tensor::from_vector({2.0, -1.0}, {2}, DType::kFloat64), b = a.clone();
  Tensor ma = Tensor::zeros({2}, DType::kFloat64), va = Tensor::zeros_like(ma), mb = ma.clone(), vb = ma.clone();
  adam_step(a, Tensor::from_vector({0.3, 0.8}, {2}, DType::kFloat64), ma, va, {.weight_decay = 0.1, .grad_scale = 0.5});
  adam_step(b, Tensor::from_vector({0.15, 0.4}, {2}, DType::kFloat64), mb, vb, {.weight_decay = 0.1});
  CHECK(a.to_vector() == b.to_vector());
}

TEST_CASE("adam_step: bad input") {
  Tensor p = Tensor::zeros({3}), m = Tensor::zeros({3}), v = Tensor::zeros({3});
  expect_error([&] { adam_step(p, Tensor::zeros({4}), m, v, {}); }, {"[adam_step]", "grad", "[4]", "[3]"});
  expect_error([&] { adam_step(p, Tensor::zeros({3}, DType::kFloat64), m, v, {}); }, {"[adam_step]", "float64"});
  expect_error([&] { adam_step(p, Tensor::zeros({3}), m, v, {.step = 0}); }, {"[adam_step]", "step is 0"});
  expect_error([&] { adam_step(p, Tensor::zeros({3}), m, v, {.beta1 = 1.0}); }, {"[adam_step]", "betas"});
}

TEST_CASE("adam_step: CPU and CUDA give the same bits" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // Same float32 arithmetic in the same order on both (no FMA contraction on the GPU): exact equality.
  Tensor p = random_tensor({3, 5, 7, 9}, 61, DType::kFloat32);
  Tensor m = random_tensor(p.shape(), 62, DType::kFloat32, -0.1, 0.1);
  Tensor v = random_tensor(p.shape(), 63, DType::kFloat32, 0.0, 0.01);
  Tensor pg = p.to(Device::cuda()), mg = m.to(Device::cuda()), vg = v.to(Device::cuda());
  for (int step = 1; step <= 3; ++step) {
    Tensor g = random_tensor(p.shape(), 70 + step, DType::kFloat32);
    AdamStep s{.lr = 1e-3, .weight_decay = 1e-4, .step = step, .grad_scale = 0.7};
    adam_step(p, g, m, v, s);
    adam_step(pg, g.to(Device::cuda()), mg, vg, s);
  }
  CHECK(pg.to_vector() == p.to_vector());
  CHECK(mg.to_vector() == m.to_vector());
  CHECK(vg.to_vector() == v.to_vector());
}
