// The MPI communicator (engine/mpi_communicator.cpp) on real ranks, and the engine's collective ops over
// them: sums, means, broadcasts and gathers of rank-dependent values worked out by hand; the combo loss of
// each rank's block of a batch (ComboLossParams::group) equal to one process's loss of the whole batch,
// with each rank's gradient the matching rows of the whole gradient; synchronised batch norm
// (BatchNormParams::sync) equal to batch norm over the whole batch, forward and backward; asynchronous
// sums left in flight across blocking collectives called in a different place on each rank.
#include <cstring>

#include "engine/ops/batch_norm.h"
#include "engine/ops/combo_loss.h"
#include "tests/mpi/mpi_testing.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;


TEST_CASE("mpi: asynchronous sums finish with the synchronous sums' values, whatever the blocking collectives between") {
  Communicator& w = world();
  const int r = w.rank(), n = w.size();
  // Two sums of 3000 and 5 random values per rank, seeded by rank; their sums made synchronously first.
  const Tensor a = random_tensor({3000}, 100 + static_cast<uint64_t>(r), DType::kFloat32);
  const Tensor b = random_tensor({5}, 200 + static_cast<uint64_t>(r), DType::kFloat64);
  Tensor a_sum = a.clone(), b_sum = b.clone();
  w.all_reduce_sum(a_sum);
  w.all_reduce_sum(b_sum);
  Tensor a_async = a.clone(), b_async = b.clone();
  std::vector<double> between = {1.0 + r};
  // Rank 0 sums `between` (blocking) before starting the others, the other ranks between the two starts.
  if (r == 0) w.all_reduce_sum(between);
  std::unique_ptr<PendingReduce> first = w.all_reduce_sum_async(a_async);
  if (r != 0) w.all_reduce_sum(between);
  std::unique_ptr<PendingReduce> second = w.all_reduce_sum_async(b_async);
  CHECK(between[0] == n * (n + 1) / 2.0);
  second->wait();
  first->wait();
  CHECK(first->test());
  CHECK(std::memcmp(a_async.raw(), a_sum.raw(), a_sum.nbytes()) == 0);
  CHECK(std::memcmp(b_async.raw(), b_sum.raw(), b_sum.nbytes()) == 0);
  // Tested until done: the sum finishes without a wait.
  Tensor c = Tensor::from_vector({1.0 * r}, {1});
  std::unique_ptr<PendingReduce> third = w.all_reduce_sum_async(c);
  while (!third->test()) {
  }
  CHECK(c.data<float>()[0] == n * (n - 1) / 2.0f);
  Tensor bad = Tensor::zeros({2}, DType::kUInt8);
  CHECK_THROWS_WITH_AS(w.all_reduce_sum_async(bad), doctest::Contains("expected a float32, float64 or int64"), Error);
}

TEST_CASE("mpi: rank, size and a description") {
  Communicator& w = world();
  CHECK(w.size() >= 2);
  CHECK(w.rank() < w.size());
  CHECK(w.local_rank() < w.local_size());
  CHECK(w.describe().find("MPI") != std::string::npos);
  CHECK(w.describe().find(std::to_string(w.size()) + " ranks") != std::string::npos);
}

TEST_CASE("mpi: sums, means, broadcasts and gathers of rank-dependent values") {
  Communicator& w = world();
  const int r = w.rank(), n = w.size();
  // float32: element i of rank r is r + i / 4 -> sum n(n-1)/2 + n i / 4 (exact in binary).
  Tensor f = Tensor::from_vector({r + 0.0, r + 0.25, r + 0.5}, {3});
  w.all_reduce_sum(f);
  for (int i = 0; i < 3; ++i) CHECK(f.data<float>()[i] == n * (n - 1) / 2.0f + n * i / 4.0f);
  Tensor d = Tensor::from_vector({1.0 * r, -2.0 * r}, {2}, DType::kFloat64);
  all_reduce_mean(w, d);
  CHECK(d.data<double>()[0] == doctest::Approx((n - 1) / 2.0));
  CHECK(d.data<double>()[1] == doctest::Approx(-(n - 1.0)));
  Tensor i64 = Tensor::from_vector({static_cast<double>(int64_t{1} << 40) + r}, {1}, DType::kInt64);
  w.all_reduce_sum(i64);
  CHECK(i64.data<int64_t>()[0] == n * (int64_t{1} << 40) + n * (n - 1) / 2);
  std::vector<double> v = {static_cast<double>(r), 1.0};
  w.all_reduce_sum(v);
  CHECK(v == std::vector<double>{n * (n - 1) / 2.0, static_cast<double>(n)});

  // Broadcast from the last rank.
  Tensor b = Tensor::from_vector({10.0 * r, 1.0 + r}, {2});
  w.broadcast(b, n - 1);
  CHECK(b.data<float>()[0] == 10.0f * (n - 1));
  CHECK(b.data<float>()[1] == static_cast<float>(n));
  std::vector<double> bv = {static_cast<double>(r)};
  w.broadcast(bv, 0);
  CHECK(bv[0] == 0.0);
  CHECK_THROWS_WITH_AS(w.broadcast(b, n), doctest::Contains("broadcast from rank"), Error);

  // Gather: rank r gives r + 1 copies of r.
  const std::vector<double> all = w.all_gather(std::vector<double>(static_cast<size_t>(r + 1), r));
  std::vector<double> expected;
  for (int k = 0; k < n; ++k) expected.insert(expected.end(), static_cast<size_t>(k + 1), k);
  CHECK(all == expected);
  CHECK(w.all_gather({}).empty());
  Tensor bad = Tensor::zeros({2}, DType::kUInt8);
  CHECK_THROWS_WITH_AS(w.all_reduce_sum(bad), doctest::Contains("expected a float32, float64 or int64"), Error);
  w.barrier();
}

TEST_CASE("mpi: the combo loss of each rank's block is the whole batch's loss, its gradient the whole's rows") {
  const RankRows block = uneven_block();
  for (DiceMode mode : {DiceMode::kBatch, DiceMode::kPerImage}) {
    CAPTURE(static_cast<int>(mode));
    // Every rank makes the same whole batch from the same seeds.
    Tensor logits = random_tensor({block.total, 1, 6, 5}, 41, DType::kFloat64, -4.0, 4.0).set_requires_grad(true);
    const Tensor targets = random_tensor({block.total, 1, 6, 5}, 42, DType::kFloat64, 0.0, 1.0);
    ComboLossParams params;
    params.dice_mode = mode;
    ComboLossComponents whole_parts;
    Tensor whole = combo_loss(logits, targets, params, &whole_parts);
    whole.backward();
    const Tensor whole_grad = rows(logits.grad(), block.begin, block.end);

    Tensor mine = rows(logits.detach(), block.begin, block.end).set_requires_grad(true);
    params.group = &world();
    ComboLossComponents parts;
    Tensor loss = combo_loss(mine, rows(targets, block.begin, block.end), params, &parts);
    loss.backward();
    // The per-image sums are the same numbers added in the same order: the same bits.
    CHECK(loss.item() == whole.item());
    CHECK(parts.dice == whole_parts.dice);
    expect_close(mine.grad(), whole_grad, 1e-13, 1e-16, "combo loss gradient of this rank's images");
  }
}

TEST_CASE("mpi: synchronised batch norm equals batch norm over the whole batch, forward and backward") {
  const RankRows block = uneven_block();
  const int64_t c = 3;
  const Tensor x = random_tensor({block.total, c, 4, 5}, 51, DType::kFloat64, -2.0, 3.0);
  const Tensor grad_y = random_tensor({block.total, c, 4, 5}, 52, DType::kFloat64);
  Tensor weight = random_tensor({c}, 53, DType::kFloat64, 0.5, 1.5).set_requires_grad(true);
  Tensor bias = random_tensor({c}, 54, DType::kFloat64).set_requires_grad(true);

  Tensor whole_x = x.clone().set_requires_grad(true);
  Tensor rm = Tensor::zeros({c}, DType::kFloat64), rv = Tensor::ones({c}, DType::kFloat64);
  Tensor whole_y = batch_norm2d(whole_x, weight, bias, rm, rv, {});
  // The whole batch's gradients from the kernels (the op's autograd node calls the same ones).
  Tensor gx_whole = Tensor::empty_like(x), gw_whole = Tensor::empty({c}, DType::kFloat64),
         gb_whole = Tensor::empty({c}, DType::kFloat64);
  Tensor sm_whole = Tensor::empty({c}, DType::kFloat64), si_whole = Tensor::empty({c}, DType::kFloat64);
  {
    Tensor rm2 = Tensor::zeros({c}, DType::kFloat64), rv2 = Tensor::ones({c}, DType::kFloat64);
    Tensor y2 = Tensor::empty_like(x);
    cpu::batch_norm_fwd_train(x, weight, bias, rm2, rv2, {}, y2, sm_whole, si_whole);
    cpu::batch_norm_bwd(x, weight, sm_whole, si_whole, true, nullptr, grad_y, &gx_whole, &gw_whole, &gb_whole);
  }

  const Tensor my_x = rows(x, block.begin, block.end), my_gy = rows(grad_y, block.begin, block.end);
  Tensor my_rm = Tensor::zeros({c}, DType::kFloat64), my_rv = Tensor::ones({c}, DType::kFloat64);
  BatchNormParams synced;
  synced.sync = &world();
  Tensor my_y = batch_norm2d(my_x, weight, bias, my_rm, my_rv, synced);
  expect_close(my_y, rows(whole_y.detach(), block.begin, block.end), 1e-12, 1e-12, "synchronised forward");
  expect_close(my_rm, rm, 1e-12, 1e-15, "running mean");
  expect_close(my_rv, rv, 1e-12, 1e-15, "running variance (unbiased over every rank's values)");

  Tensor sm = Tensor::empty({c}, DType::kFloat64), si = Tensor::empty({c}, DType::kFloat64);
  Tensor y = Tensor::empty_like(my_x);
  Tensor rm3 = Tensor::zeros({c}, DType::kFloat64), rv3 = Tensor::ones({c}, DType::kFloat64);
  cpu::batch_norm_fwd_train(my_x, weight, bias, rm3, rv3, synced, y, sm, si);
  Tensor gx = Tensor::empty_like(my_x), gw = Tensor::empty({c}, DType::kFloat64), gb = Tensor::empty({c}, DType::kFloat64);
  cpu::batch_norm_bwd(my_x, weight, sm, si, true, &world(), my_gy, &gx, &gw, &gb);
  expect_close(gx, rows(gx_whole, block.begin, block.end), 1e-11, 1e-13, "synchronised grad_x");
  // grad_weight and grad_bias are this rank's share: their sum over the ranks is the whole's.
  world().all_reduce_sum(gw);
  world().all_reduce_sum(gb);
  expect_close(gw, gw_whole, 1e-11, 1e-13, "grad_weight summed over ranks");
  expect_close(gb, gb_whole, 1e-11, 1e-13, "grad_bias summed over ranks");
}
