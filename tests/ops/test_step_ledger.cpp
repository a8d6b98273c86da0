// Tests of the step ledger (engine/ops/step_ledger.h): worked windows (applied, clipped, skipped for a
// non-finite loss or norm, giving up), the restore of a skipped step's buffers, no host read, CPU-vs-CUDA
// equality and bad input. The ledger is bookkeeping, not a differentiable op: there is no gradient check;
// the trainer's use of it is tested in tests/tools/test_train_unet.cpp.
#include "engine/ops/step_ledger.h"

#include <cmath>

#include "engine/counters.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

Tensor scalar(double v, DType dtype = DType::kFloat32, Device device = Device::cpu()) {
  return upload(Tensor::from_vector({v}, Shape{1}, dtype), device);
}

// One batch: inside a window when squared_norm is NaN-free and negative (-1), else the window's end.
// `batch`: the position the ledger should have counted to (it counts the batches itself).
void record(Tensor& ledger, double loss, double squares, const StepRule& rule, int64_t batch,
            Device device = Device::cpu()) {
  CHECK(read_step_ledger(ledger).next_batch == static_cast<double>(batch));
  const Tensor sq = squares < 0 ? Tensor{} : scalar(squares, DType::kFloat64, device);
  ledger_record_batch(ledger, scalar(loss, DType::kFloat32, device), sq, rule);
}

StepLedger read(const Tensor& ledger) { return read_step_ledger(ledger); }

}  // namespace

TEST_CASE("step ledger: a window of two batches, clipped, then one without clipping") {
  Tensor ledger = make_step_ledger(StepLedger{}, Device::cpu());
  const StepRule rule{.max_norm = 0.1, .max_skipped_in_a_row = 3};
  record(ledger, 0.5, -1, rule, 0);  // inside the window: the loss counts, nothing is decided
  StepLedger l = read(ledger);
  CHECK(l.loss_sum == 0.5);
  CHECK(l.loss_count == 1);
  CHECK(l.apply == 1);
  record(ledger, 0.25, 4.0, rule, 1);  // ends it: norm 2, factor 0.1 / (2 + 1e-6)
  l = read(ledger);
  CHECK(l.loss_sum == 0.75);
  CHECK(l.loss_count == 2);
  CHECK(l.grad_norm == 2.0);
  CHECK(l.grad_scale == 0.1 / (2.0 + 1e-6));
  CHECK(l.apply == 1);
  CHECK(l.skipped_total == 0);
  // A norm below max_norm is not scaled; max_norm 0 turns clipping off whatever the norm.
  record(ledger, 0.125, 0.0025, rule, 2);
  CHECK(read(ledger).grad_scale == 1.0);
  record(ledger, 0.125, 100.0, {.max_norm = 0, .max_skipped_in_a_row = 3}, 3);
  l = read(ledger);
  CHECK(l.grad_scale == 1.0);
  CHECK(l.grad_norm == 10.0);
  CHECK(l.loss_sum == 1.0);
}

TEST_CASE("step ledger: a non-finite loss or norm skips the step; a good step clears the run") {
  StepLedger start;
  start.skipped_total = 4;  // the fold's earlier skips (a resumed run)
  start.next_batch = 6;     // resumed at batch 6 of the epoch
  Tensor ledger = make_step_ledger(start, Device::cpu());
  const StepRule rule{.max_norm = 1.0, .max_skipped_in_a_row = 5};
  record(ledger, NAN, -1, rule, 6);  // a NaN loss inside the window marks it
  record(ledger, 0.5, 1.0, rule, 7);  // the end: finite loss and norm, but the window is bad
  StepLedger l = read(ledger);
  CHECK(l.apply == 0);
  CHECK(l.grad_scale == 0);
  CHECK(l.skipped_in_a_row == 1);
  CHECK(l.skipped_total == 5);
  CHECK(l.last_skipped_batch == 7);
  CHECK(std::isnan(l.last_skipped_loss));  // the window had a non-finite loss
  CHECK(l.last_skipped_norm == 1.0);
  CHECK(l.loss_sum == 0.5);  // the finite loss of a skipped step still counts, the NaN does not
  CHECK(l.loss_count == 1);
  CHECK(l.window_bad == 0);  // the next window starts clean
  record(ledger, 0.25, INFINITY, rule, 8);  // an infinite gradient norm
  l = read(ledger);
  CHECK(l.apply == 0);
  CHECK(l.skipped_in_a_row == 2);
  CHECK(l.last_skipped_loss == 0.25);
  CHECK(std::isinf(l.last_skipped_norm));
  record(ledger, 0.25, 0.25, rule, 9);
  l = read(ledger);
  CHECK(l.apply == 1);
  CHECK(l.grad_scale == 1.0);  // norm 0.5 < 1
  CHECK(l.skipped_in_a_row == 0);
  CHECK(l.skipped_total == 6);
  CHECK(l.gave_up == 0);
}

TEST_CASE("step ledger: max_skipped_in_a_row skips in a row give up; nothing after counts") {
  Tensor ledger = make_step_ledger(StepLedger{}, Device::cpu());
  const StepRule rule{.max_norm = 0.1, .max_skipped_in_a_row = 2};
  record(ledger, 0.5, 1.0, rule, 0);
  record(ledger, 0.5, NAN, rule, 1);
  CHECK(read(ledger).gave_up == 0);
  record(ledger, 0.75, NAN, rule, 2);
  StepLedger l = read(ledger);
  CHECK(l.gave_up == 1);
  CHECK(l.gave_up_batch == 2);
  CHECK(l.skipped_in_a_row == 2);
  CHECK(l.loss_sum == 1.0);  // batches 0 and 1: batch 2 comes again on --resume
  CHECK(l.loss_count == 2);
  record(ledger, 0.5, 1.0, rule, 3);  // a good batch after giving up changes nothing
  record(ledger, 0.5, -1, rule, 4);
  const StepLedger after = read(ledger);
  CHECK(after.apply == 0);
  CHECK(after.loss_sum == 1.0);
  CHECK(after.skipped_in_a_row == 2);
  CHECK(after.gave_up_batch == 2);
}

TEST_CASE("step ledger: a skipped step's buffers are put back, an applied step's are kept") {
  Tensor mean = random_tensor({5}, 3, DType::kFloat32), count = Tensor::from_vector({7}, {1}, DType::kInt64);
  const std::vector<Tensor> saved = {mean.clone(), count.clone()};
  std::vector<Tensor> buffers = {mean, count};
  const Tensor moved_mean = random_tensor({5}, 4, DType::kFloat32);
  mean.copy_from(moved_mean);
  count.copy_from(Tensor::from_vector({8}, {1}, DType::kInt64));
  Tensor ledger = make_step_ledger(StepLedger{}, Device::cpu());
  ledger_restore_if_skipped(ledger, buffers, saved);  // apply = 1
  CHECK(mean.to_vector() == moved_mean.to_vector());
  CHECK(count.to_vector() == std::vector<double>{8});
  record(ledger, NAN, 1.0, {}, 0);
  ledger_restore_if_skipped(ledger, buffers, saved);
  CHECK(mean.to_vector() == saved[0].to_vector());
  CHECK(count.to_vector() == std::vector<double>{7});
}

TEST_CASE("step ledger: recording and restoring read nothing back on the host") {
  Tensor ledger = make_step_ledger(StepLedger{}, Device::cpu());
  const Tensor loss = scalar(0.5), squares = scalar(1.0, DType::kFloat64);
  std::vector<Tensor> buffers = {random_tensor({3}, 5)};
  const std::vector<Tensor> saved = {random_tensor({3}, 6)};
  const EngineCounters before = engine_counters();
  ledger_record_batch(ledger, loss, Tensor{}, {});
  ledger_record_batch(ledger, loss, squares, {});
  ledger_restore_if_skipped(ledger, buffers, saved);
  CHECK(counters_between(before, engine_counters()).host_reads == 0);
  read_step_ledger(ledger);
  CHECK(counters_between(before, engine_counters()).host_reads == 1);
}

TEST_CASE("step ledger: bad input") {
  Tensor ledger = make_step_ledger(StepLedger{}, Device::cpu());
  Tensor not_a_ledger = Tensor::zeros({3}, DType::kFloat64);
  expect_error([&] { ledger_record_batch(not_a_ledger, scalar(1), Tensor{}, {}); },
               {"[ledger_record_batch]", "ledger is float64[3]", "make_step_ledger"});
  expect_error([&] { ledger_record_batch(ledger, Tensor::zeros({2}), Tensor{}, {}); },
               {"[ledger_record_batch]", "loss has 2 elements"});
  expect_error([&] { ledger_record_batch(ledger, scalar(1), scalar(1), {}); },
               {"[ledger_record_batch]", "squared_norm is float32", "float64"});
  expect_error([&] { ledger_record_batch(ledger, scalar(1), Tensor{}, {.max_skipped_in_a_row = 0}); },
               {"[ledger_record_batch]", "max_skipped_in_a_row 0"});
  std::vector<Tensor> buffers = {Tensor::zeros({3})};
  expect_error([&] { ledger_restore_if_skipped(ledger, buffers, {}); },
               {"[ledger_restore_if_skipped]", "1 buffers but 0 saved"});
  expect_error([&] { ledger_restore_if_skipped(ledger, buffers, {Tensor::zeros({4})}); },
               {"[ledger_restore_if_skipped]", "saved", "[4]", "[3]"});
  expect_error([&] { read_step_ledger(not_a_ledger); }, {"[read_step_ledger]", "ledger"});
}

TEST_CASE("step ledger: CPU and CUDA decide the same steps" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Device gpu = Device::cuda();
  StepLedger start;
  start.loss_sum = 1.25;
  start.loss_count = 3;
  Tensor cpu_ledger = make_step_ledger(start, Device::cpu()), gpu_ledger = make_step_ledger(start, gpu);
  const StepRule rule{.max_norm = 0.1, .max_skipped_in_a_row = 3};
  // Windows of two: clipped, a NaN loss, an infinite norm, unclipped, then three bad in a row (gives up).
  const std::vector<std::pair<double, double>> batches = {
      {0.3, -1}, {0.7, 2.5}, {NAN, -1}, {0.2, 0.5}, {0.4, -1}, {0.6, INFINITY}, {0.1, -1}, {0.9, 1e-4},
      {0.3, -1}, {0.2, NAN},  {0.3, -1}, {0.2, NAN}, {0.3, -1}, {0.2, NAN},      {0.5, -1}, {0.5, 1.0}};
  for (size_t b = 0; b < batches.size(); ++b) {
    record(cpu_ledger, batches[b].first, batches[b].second, rule, static_cast<int64_t>(b));
    record(gpu_ledger, batches[b].first, batches[b].second, rule, static_cast<int64_t>(b), gpu);
    const std::vector<double> c = cpu_ledger.to_vector(), g = gpu_ledger.to_vector();
    for (size_t i = 0; i < c.size(); ++i) {
      CAPTURE(b);
      CAPTURE(i);
      CHECK((c[i] == g[i] || (std::isnan(c[i]) && std::isnan(g[i]))));
    }
  }
  CHECK(read_step_ledger(gpu_ledger).gave_up == 1);
  // The restore, on the device, both ways.
  Tensor mean = random_tensor({3, 40000}, 8, DType::kFloat32).to(gpu);  // several chunks
  const std::vector<Tensor> saved = {random_tensor({3, 40000}, 9, DType::kFloat32).to(gpu)};
  std::vector<Tensor> buffers = {mean};
  const std::vector<double> moved = mean.to_vector();
  Tensor applied = make_step_ledger(StepLedger{}, gpu);
  ledger_restore_if_skipped(applied, buffers, saved);
  CHECK(mean.to_vector() == moved);
  ledger_restore_if_skipped(gpu_ledger, buffers, saved);
  CHECK(mean.to_vector() == saved[0].to_vector());
}
