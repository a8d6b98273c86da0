// Tests of adam_step and adam_multi_step (engine/ops/adam.h): a worked example, the multi-tensor step
// equal to adam_step per tensor (its ledger's multiplier, skips, step counters), no host read, bad input,
// and CPU-vs-CUDA equality. It is an in-place update with no autograd, so it has no gradient check;
// tests/train/test_optimizer.cpp compares whole Adam runs with values recorded from PyTorch.
#include "engine/ops/adam.h"

#include <cmath>

#include "engine/counters.h"
#include "engine/ops/adam_math.h"
#include "engine/ops/step_ledger.h"
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

TEST_CASE("adam_math: the bias corrections' power by squaring against std::pow") {
  for (double beta : {0.9, 0.999}) {
    for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 5000, 123457, 10000000}) {
      CAPTURE(beta);
      CAPTURE(n);
      const double want = std::pow(beta, static_cast<double>(n));
      // The bias correction 1 - beta^n is what the update uses: off by at most ~2^-53 / (e ln(1/beta))
      // (adam_math.h), 4e-14 for 0.999.
      CHECK(std::fabs(adam_math::power(beta, n) - want) <= 5e-14);
      if (n <= 64) CHECK(std::fabs(adam_math::power(beta, n) - want) <= 64 * 2.3e-16 * want);  // ~n ulp
    }
  }
  CHECK(adam_math::power(0.9, 0) == 1.0);
  CHECK(adam_math::step_size(0.1, 0.9, 1) == 0.1 / (1.0 - 0.9));
}

namespace {

// A parameter set of several shapes and their moments, seeded.
struct MultiSet {
  AdamTensors t;
  MultiSet(DType dtype, Device device, uint64_t seed, const std::vector<Shape>& shapes) {
    for (const Shape& s : shapes) {
      t.params.push_back(random_tensor(s, seed++, dtype).to(device));
      t.grads.push_back(random_tensor(s, seed++, dtype).to(device));
      t.exp_avgs.push_back(random_tensor(s, seed++, dtype, -0.1, 0.1).to(device));
      t.exp_avg_sqs.push_back(random_tensor(s, seed++, dtype, 0.0, 0.01).to(device));
    }
  }
  MultiSet clone() const {
    MultiSet c = *this;
    for (auto* list : {&c.t.params, &c.t.grads, &c.t.exp_avgs, &c.t.exp_avg_sqs})
      for (Tensor& x : *list) x = x.clone();
    return c;
  }
};

Tensor ledger_with(double grad_scale, double apply, Device device = Device::cpu()) {
  StepLedger l;
  l.grad_scale = grad_scale;
  l.apply = apply;
  return make_step_ledger(l, device);
}

}  // namespace

TEST_CASE("adam_multi_step: the same bits as adam_step per tensor, with the ledger's multiplier and counters") {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    CAPTURE(dtype_name(dtype));
    MultiSet multi(dtype, Device::cpu(), 80, {{3, 5}, {7}, {2, 2, 3, 3}});
    MultiSet single = multi.clone();
    // Slots out of order; counters that differ (a parameter that joined late has fewer updates).
    multi.t.step_slots = {2, 0, 3};
    Tensor steps = Tensor::from_vector({4, 9, 0, 6}, {4}, DType::kFloat64);
    const AdamHyper h{.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-7, .weight_decay = 0.01};
    adam_multi_step(multi.t, steps, ledger_with(0.37, 1.0), h);
    CHECK(steps.to_vector() == std::vector<double>{5, 9, 1, 7});
    const std::vector<int64_t> step_of = {1, 5, 7};
    for (size_t i = 0; i < 3; ++i) {
      adam_step(single.t.params[i], single.t.grads[i], single.t.exp_avgs[i], single.t.exp_avg_sqs[i],
                {h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, step_of[i], 0.37});
      CHECK(multi.t.params[i].to_vector() == single.t.params[i].to_vector());
      CHECK(multi.t.exp_avgs[i].to_vector() == single.t.exp_avgs[i].to_vector());
      CHECK(multi.t.exp_avg_sqs[i].to_vector() == single.t.exp_avg_sqs[i].to_vector());
    }
  }
}

TEST_CASE("adam_multi_step: a skipped step changes nothing, counters included; no host read") {
  MultiSet multi(DType::kFloat32, Device::cpu(), 90, {{4, 4}, {9}});
  multi.t.step_slots = {0, 1};
  const MultiSet before = multi.clone();
  Tensor steps = Tensor::from_vector({2, 2}, {2}, DType::kFloat64);
  const Tensor skipped = ledger_with(0.0, 0.0);
  const EngineCounters c0 = engine_counters();
  adam_multi_step(multi.t, steps, skipped, {});
  CHECK(counters_between(c0, engine_counters()).host_reads == 0);
  CHECK(steps.to_vector() == std::vector<double>{2, 2});
  for (size_t i = 0; i < 2; ++i) {
    CHECK(multi.t.params[i].to_vector() == before.t.params[i].to_vector());
    CHECK(multi.t.exp_avgs[i].to_vector() == before.t.exp_avgs[i].to_vector());
    CHECK(multi.t.exp_avg_sqs[i].to_vector() == before.t.exp_avg_sqs[i].to_vector());
  }
}

TEST_CASE("adam_multi_step: bad input") {
  MultiSet m(DType::kFloat32, Device::cpu(), 100, {{3}, {2}});
  m.t.step_slots = {0, 1};
  Tensor steps = Tensor::zeros({2}, DType::kFloat64);
  const Tensor ledger = ledger_with(1.0, 1.0);
  AdamTensors short_grads = m.t;
  short_grads.grads.pop_back();
  expect_error([&] { adam_multi_step(short_grads, steps, ledger, {}); }, {"[adam_multi_step]", "2 params but 1 grads"});
  AdamTensors twice = m.t;
  twice.step_slots = {1, 1};
  expect_error([&] { adam_multi_step(twice, steps, ledger, {}); }, {"[adam_multi_step]", "step slot 1", "used twice"});
  AdamTensors beyond = m.t;
  beyond.step_slots = {0, 2};
  expect_error([&] { adam_multi_step(beyond, steps, ledger, {}); }, {"[adam_multi_step]", "step slot 2", "[0, 2)"});
  Tensor float_steps = Tensor::zeros({2});
  expect_error([&] { adam_multi_step(m.t, float_steps, ledger, {}); }, {"[adam_multi_step]", "steps is float32"});
  expect_error([&] { adam_multi_step(m.t, steps, Tensor::zeros({2}, DType::kFloat64), {}); },
               {"[adam_multi_step]", "not a step ledger"});
  AdamTensors wrong_shape = m.t;
  wrong_shape.exp_avgs[1] = Tensor::zeros({5});
  expect_error([&] { adam_multi_step(wrong_shape, steps, ledger, {}); }, {"[adam_multi_step]", "exp_avg", "[5]"});
  expect_error([&] { adam_multi_step(m.t, steps, ledger, {.beta2 = 1.0}); }, {"[adam_multi_step]", "betas"});
}

TEST_CASE("adam_multi_step: CPU and CUDA give the same bits" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // 30 parameters (two lists of up to 24), some over several 8192-element chunks.
  std::vector<Shape> shapes;
  for (int i = 0; i < 30; ++i) shapes.push_back(i % 7 == 0 ? Shape{3, 9000 + i} : Shape{5 + i, 3});
  MultiSet cpu(DType::kFloat32, Device::cpu(), 200, shapes);
  MultiSet gpu = cpu.clone();
  for (auto* list : {&gpu.t.params, &gpu.t.grads, &gpu.t.exp_avgs, &gpu.t.exp_avg_sqs})
    for (Tensor& x : *list) x = x.to(Device::cuda());
  for (int i = 0; i < 30; ++i) cpu.t.step_slots.push_back(29 - i);
  gpu.t.step_slots = cpu.t.step_slots;
  std::vector<double> counts(30);
  for (int i = 0; i < 30; ++i) counts[static_cast<size_t>(i)] = i % 4;
  Tensor cpu_steps = Tensor::from_vector(counts, {30}, DType::kFloat64), gpu_steps = cpu_steps.to(Device::cuda());
  const AdamHyper h{.lr = 1e-3, .weight_decay = 1e-4};
  for (double apply : {1.0, 0.0, 1.0}) {
    adam_multi_step(cpu.t, cpu_steps, ledger_with(0.7, apply), h);
    adam_multi_step(gpu.t, gpu_steps, ledger_with(0.7, apply, Device::cuda()), h);
  }
  CHECK(gpu_steps.to_vector() == cpu_steps.to_vector());
  for (size_t i = 0; i < shapes.size(); ++i) {
    CAPTURE(i);
    CHECK(gpu.t.params[i].to_vector() == cpu.t.params[i].to_vector());
    CHECK(gpu.t.exp_avgs[i].to_vector() == cpu.t.exp_avgs[i].to_vector());
    CHECK(gpu.t.exp_avg_sqs[i].to_vector() == cpu.t.exp_avg_sqs[i].to_vector());
  }
}
