// Tests of train/optimizer.h: Adam with clipping against a run recorded from PyTorch
// (tests/fixtures/reference/optim/make_optim_reference.py), parameters without gradients untouched.
#include "train/optimizer.h"

#include <cmath>

#include "engine/counters.h"
#include "engine/npy.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
std::string optim_file(const std::string& name) { return std::string(PLEURA_FIXTURES_DIR) + "/reference/optim/" + name; }

// Row k of a stacked [steps, ...] array.
Tensor row(const Tensor& stacked, int64_t k, const Shape& shape) {
  std::vector<double> all = stacked.to_vector();
  int64_t n = shape.numel();
  return Tensor::from_vector(std::vector<double>(all.begin() + k * n, all.begin() + (k + 1) * n), shape);
}
}  // namespace

TEST_CASE("adam: five clipped steps match PyTorch") {
  Tensor p = read_npy(optim_file("adam_p0.npy")).set_requires_grad(true);
  Tensor q = read_npy(optim_file("adam_q0.npy")).set_requires_grad(true);
  Tensor gp = read_npy(optim_file("adam_grads_p.npy")), gq = read_npy(optim_file("adam_grads_q.npy"));
  Tensor after_p = read_npy(optim_file("adam_after_p.npy")), after_q = read_npy(optim_file("adam_after_q.npy"));
  std::vector<double> norms = read_npy(optim_file("adam_norms.npy")).to_vector();
  Adam adam({&p, &q}, {.lr = 1e-3, .weight_decay = 1e-4});
  for (int64_t k = 0; k < 5; ++k) {
    p.impl().grad = row(gp, k, p.shape()).impl_ptr();
    q.impl().grad = row(gq, k, q.shape()).impl_ptr();
    double norm = grad_norm({&p, &q});
    // PyTorch sums the squares in float32; we sum in double.
    CHECK(norm == doctest::Approx(norms[k]).epsilon(1e-6));
    adam.step(clip_factor(norm, 0.1));
    // Float32 results: PyTorch's lerp/addcdiv order rounds slightly differently from ours.
    expect_close(p, row(after_p, k, p.shape()), 2e-6, 1e-7, "p after step " + std::to_string(k + 1));
    expect_close(q, row(after_q, k, q.shape()), 2e-6, 1e-7, "q after step " + std::to_string(k + 1));
  }
  CHECK(adam.state()[0].step == 5);
}

TEST_CASE("adam: parameters without a gradient or frozen are not updated, not even decayed") {
  Tensor a = Tensor::from_vector({1, 2}, {2}).set_requires_grad(true);
  Tensor unused = Tensor::from_vector({3, 4}, {2}).set_requires_grad(true);
  Tensor frozen = Tensor::from_vector({5, 6}, {2});
  frozen.impl().grad = Tensor::from_vector({1, 1}, {2}).impl_ptr();
  Adam adam({&a, &unused, &frozen}, {.lr = 0.1, .weight_decay = 0.5});
  a.impl().grad = Tensor::from_vector({0.5, -0.5}, {2}).impl_ptr();
  adam.step();
  CHECK(a.to_vector() != std::vector<double>{1, 2});
  CHECK(unused.to_vector() == std::vector<double>{3, 4});
  CHECK(frozen.to_vector() == std::vector<double>{5, 6});
  CHECK(adam.state()[1].step == 0);
  CHECK_FALSE(adam.state()[1].exp_avg.defined());
}

TEST_CASE("clip: factor and errors") {
  CHECK(clip_factor(0.05, 0.1) == 1.0);
  CHECK(clip_factor(1.0, 0.1) == doctest::Approx(0.1 / (1.0 + 1e-6)));
  expect_error([] { clip_factor(1.0, 0.0); }, {"[clip]", "max_norm"});
  Tensor g = Tensor::from_vector({3, 4}, {2}).set_requires_grad(true);
  g.impl().grad = Tensor::from_vector({3, 4}, {2}).impl_ptr();
  CHECK(grad_norm({&g}) == 5.0);
}

TEST_CASE("grad_norm: one host read for all parameters, squares summed in double") {
  Rng rng(31);
  std::vector<Tensor> params;
  for (const Shape& shape : {Shape{7}, Shape{3, 5}, Shape{2, 3, 3, 3}, Shape{1}, Shape{4, 2, 1, 1}}) {
    params.push_back(rand_uniform(shape, rng, -1.0, 1.0).set_requires_grad(true));
    params.back().impl().grad = rand_uniform(shape, rng, -2.0, 2.0).impl_ptr();
  }
  Tensor no_grad = rand_uniform({3}, rng, -1.0, 1.0).set_requires_grad(true);  // skipped
  std::vector<Tensor*> ptrs{&params[0], &params[1], &no_grad, &params[2], &params[3], &params[4]};
  long double expected = 0.0;
  for (Tensor& p : params)
    for (double g : p.grad().to_vector()) expected += static_cast<long double>(g) * g;
  const EngineCounters before = engine_counters();
  const double norm = grad_norm(ptrs);
  CHECK(counters_between(before, engine_counters()).host_reads == 1);
  CHECK(std::fabs(norm - std::sqrt(static_cast<double>(expected))) <= 1e-15 * norm);
  CHECK(grad_norm({&no_grad}) == 0.0);
}

namespace {

// Parameters with gradients, from a seed (the same seed, the same values).
std::vector<Tensor> seeded_params(uint64_t seed) {
  Rng rng(seed);
  std::vector<Tensor> params;
  for (const Shape& shape : {Shape{9}, Shape{3, 4}, Shape{2, 2, 3, 3}}) {
    params.push_back(rand_uniform(shape, rng, -1.0, 1.0).set_requires_grad(true));
    params.back().impl().grad = rand_uniform(shape, rng, -1.0, 1.0).impl_ptr();
  }
  return params;
}

std::vector<Tensor*> pointers(std::vector<Tensor>& v) {
  std::vector<Tensor*> p;
  for (Tensor& t : v) p.push_back(&t);
  return p;
}

}  // namespace

TEST_CASE("decide_and_step: the device's decision equals clipping on the host, without a host read") {
  std::vector<Tensor> host = seeded_params(5), device = seeded_params(5);
  Adam a(pointers(host), {.lr = 1e-2, .weight_decay = 1e-3}), b(pointers(device), {.lr = 1e-2, .weight_decay = 1e-3});
  Tensor ledger = make_step_ledger(StepLedger{}, Device::cpu());
  const Tensor loss = Tensor::from_vector({0.5}, {1});
  for (int64_t k = 0; k < 3; ++k) {
    a.step(clip_factor(grad_norm(pointers(host)), 0.1));
    const EngineCounters before = engine_counters();
    decide_and_step(b, ledger, loss, {.max_norm = 0.1, .max_skipped_in_a_row = 5});
    CHECK(counters_between(before, engine_counters()).host_reads == 0);
  }
  for (size_t i = 0; i < host.size(); ++i) CHECK(device[i].to_vector() == host[i].to_vector());
  CHECK(read_step_ledger(ledger).grad_scale < 1.0);  // the norm is well above 0.1: clipped
  CHECK(b.state()[2].step == 3);
}

TEST_CASE("decide_and_step: a NaN gradient skips the step, counters included; state() reads them in one read") {
  std::vector<Tensor> params = seeded_params(6);
  const std::vector<std::vector<double>> start = {params[0].to_vector(), params[1].to_vector(), params[2].to_vector()};
  Adam adam(pointers(params), {.lr = 1e-2});
  Tensor ledger = make_step_ledger(StepLedger{}, Device::cpu());
  const Tensor loss = Tensor::from_vector({0.5}, {1});
  params[1].grad().data<float>()[4] = NAN;
  decide_and_step(adam, ledger, loss, {.max_norm = 0.1, .max_skipped_in_a_row = 5});
  for (size_t i = 0; i < params.size(); ++i) CHECK(params[i].to_vector() == start[i]);
  EngineCounters before = engine_counters();
  CHECK(adam.state()[0].step == 0);
  CHECK(counters_between(before, engine_counters()).host_reads == 1);
  before = engine_counters();
  CHECK(adam.state()[0].step == 0);  // already on the host: no second read
  CHECK(counters_between(before, engine_counters()).host_reads == 0);
  params[1].grad().data<float>()[4] = 0.25f;
  decide_and_step(adam, ledger, loss, {.max_norm = 0.1, .max_skipped_in_a_row = 5});
  CHECK(params[0].to_vector() != start[0]);
  CHECK(adam.state()[1].step == 1);  // the first applied update is step 1 (bias corrections)
  const StepLedger l = read_step_ledger(ledger);
  CHECK(l.skipped_total == 1);
  CHECK(l.skipped_in_a_row == 0);
  CHECK(l.last_skipped_batch == 0);  // the ledger counts the batches it records
  CHECK(l.next_batch == 2);
}
