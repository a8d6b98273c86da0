// train/trainer.h's run_training on real ranks (train/data_parallel.h). N ranks of batch 2 with sync_bn,
// and N ranks of batch 1 with grad_accum 2, end near one process of batch 2N (resp. N) and bitwise equal
// on every rank, with the same training losses; validation over N ranks writes one process's summary, to
// the digit; only rank 0 writes files; a stop requested on one rank stops every rank after the same step,
// one process is refused that state, and --resume with the same N finishes with the uninterrupted run's
// parameters (per-rank batch norm: rank 0's running statistics after every step). One step's gradients,
// summed over the ranks in buckets of any size, are the whole batch's (sync_bn; per-rank batch norm with
// the encoder frozen in eval mode), the same when the buckets are summed during backward; broadcast_buffers
// gives every rank rank 0's running statistics. Faults (a rank that throws or is killed) are tested on
// train_unet itself: tests/mpi/faults.sh. Runner: tests/mpi/main.cpp.
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>

#include "engine/file_io.h"
#include "engine/interrupt.h"
#include "engine/ops/combo_loss.h"
#include "layers/batchnorm.h"
#include "models/registry.h"
#include "tests/mpi/mpi_testing.h"
#include "tests/testing.h"
#include "tests/train/train_testing.h"
#include "train/data_parallel.h"
#include "train/trainer.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

// The fold's parameters and buffers, copied when its training ends.
struct Trained {
  std::vector<Tensor> values;
};

// The tiny cache of train_testing.h made by rank 0 in `dir` (12 images of 64², 3 folds: fold 0 trains on 8
// images, 4 of them positive, so an epoch at sample rate 0.5 has 8 items), seen by every rank after it.
TinyCache shared_cache(const SharedDir& dir) {
  TinyCache cache;
  if (world().rank() == 0) cache = make_tiny_cache(dir.file("cache"), 12, 64, 3);
  world().barrier();
  cache.dir = dir.file("cache");
  cache.folds = dir.file("cache/folds.csv");
  return cache;
}

Trained train(const TrainConfig& config, Communicator& comm, TrainOptions options = {}) {
  Trained trained;
  options.world = &comm;
  options.after_fold = [&](int, Module& model) {
    for (Tensor* p : model.parameters()) trained.values.push_back(p->clone());
    for (auto& [name, buffer] : model.named_buffers()) trained.values.push_back(buffer->clone());
  };
  std::ostringstream out, progress;
  run_training(config, options, out, progress);
  return trained;
}

// How many of `mine` differ in any bit from rank 0's (broadcast to every rank).
int differing_from_rank0(const Trained& mine) {
  int differing = 0;
  for (const Tensor& t : mine.values) {
    Tensor root = t.clone();
    world().broadcast(root, 0);
    differing += std::memcmp(root.raw(), t.raw(), t.nbytes()) != 0;
  }
  return differing;
}

TrainConfig config_for(const TinyCache& cache, const std::string& output, const std::string& extra) {
  return parse_train_config(tiny_train_ini(cache, output, extra), "mpi_training.ini");
}

}  // namespace

namespace {

// The mean training loss of each epoch, from a metrics.csv.
std::vector<double> epoch_losses(const std::string& metrics_csv) {
  std::istringstream lines(read_file(metrics_csv));
  std::string line;
  std::getline(lines, line);  // header
  std::vector<double> losses;
  while (std::getline(lines, line)) {
    const size_t first = line.find(',');
    losses.push_back(std::stod(line.substr(first + 1, line.find(',', first + 1) - first - 1)));
  }
  return losses;
}

// Trains `config` on the ranks and, when one process of batch N x config.batch_size sees the same batches
// (the epoch's 8 items make whole global batches), on rank 0 alone; their parameters and buffers must
// agree within 3e-5 + 1e-5 relative, and their training losses within 1e-6 relative. lr 1e-5 (the solution's later stages): at the tiny config's 1e-3 the runs are
// chaotic. Adam turns the rounding of a different summation order (gradients within ~1e-7 relative after
// the first step) into whole steps for parameters whose gradients are near 0, and 4 steps later the
// parameters differ by 7e-4 (lr 1e-4: 5e-5; 1e-5: 6e-8). The gradients themselves are compared below.
// `rtol`, `atol` and `loss_rtol`: the defaults hold in fp32. bf16 needs far wider ones: the ranks'
// synchronised batch-norm sums are added in another order than one process's, a last-bit difference in a
// normalised activation becomes a whole bfloat16 step (2^-8) where the next convolution rounds its input,
// and those steps compound through the network's depth; each rank also rounds its own weight gradients
// before the sum (as DDP under autocast does).
void expect_ranks_match_one_process(TrainConfig config, const SharedDir& dir, double rtol = 1e-5,
                                    double atol = 3e-5, double loss_rtol = 1e-6) {
  config.lr = 1e-5;
  config.output = dir.file("ranks");
  const Trained mine = train(config, world());
  REQUIRE(!mine.values.empty());
  CHECK(differing_from_rank0(mine) == 0);
  CHECK(std::filesystem::exists(fold_paths(config, 0).summary));  // rank 0 wrote the fold's files
  const int ranks = world().size();
  if (8 % (config.batch_size * ranks) != 0) return;  // a last global batch left out
  if (world().rank() == 0) {
    TrainConfig single = config;
    single.output = dir.file("single");
    single.batch_size = config.batch_size * ranks;
    const Trained one = train(single, single_process());
    REQUIRE(one.values.size() == mine.values.size());
    double worst = 0.0;
    for (size_t i = 0; i < one.values.size(); ++i) {
      // Measured: at most 6.4e-6 (a running variance near 1), 1.1e-6 on small weights, with OpenBLAS's SSE3
      // kernels; 1.8e-5 with its AVX-512 ones (4 of 1.5M weights above 3e-6: Adam again, on another rounding).
      expect_close(mine.values[i], one.values[i], rtol, atol, "parameter or buffer after training");
      const Tensor a = mine.values[i].to(DType::kFloat64), b = one.values[i].to(DType::kFloat64);
      for (int64_t k = 0; k < a.numel(); ++k) worst = std::max(worst, std::abs(a.data<double>()[k] - b.data<double>()[k]));
    }
    MESSAGE("largest difference from one process of batch ", single.batch_size, ": ", worst);
    // The epochs' mean training losses (metrics.csv, column 2) are the whole batches' losses: a wrong
    // batch, which Adam's sign-like first steps could hide in the weights, shows here.
    const std::vector<double> ranks_loss = epoch_losses(fold_paths(config, 0).metrics),
                              one_loss = epoch_losses(fold_paths(single, 0).metrics);
    REQUIRE(ranks_loss.size() == static_cast<size_t>(config.epochs));
    REQUIRE(one_loss.size() == ranks_loss.size());
    for (size_t e = 0; e < one_loss.size(); ++e)
      CHECK(ranks_loss[e] == doctest::Approx(one_loss[e]).epsilon(loss_rtol));
  }
  world().barrier();
}

}  // namespace

TEST_CASE("mpi training: broadcast_buffers gives every rank rank 0's running statistics, and leaves the counts") {
  // Two batch norms (float32 statistics) and the rank-dependent values each rank's own images would give.
  struct Net : Module {
    std::shared_ptr<BatchNorm2d> a, b;
    Net() {
      a = register_module("a", std::make_shared<BatchNorm2d>(3));
      b = register_module("b", std::make_shared<BatchNorm2d>(5));
    }
  };
  auto rank_values = [](Net& net, int rank) {
    net.a->running_mean().copy_from(random_tensor({3}, 100 + rank, DType::kFloat32));
    net.a->running_var().copy_from(random_tensor({3}, 200 + rank, DType::kFloat32, 0.5, 2.0));
    net.b->running_mean().copy_from(random_tensor({5}, 300 + rank, DType::kFloat32));
    net.b->running_var().copy_from(random_tensor({5}, 400 + rank, DType::kFloat32, 0.5, 2.0));
    net.a->num_batches_tracked().data<int64_t>()[0] = 10 + rank;
  };
  Net mine, rank0;
  rank_values(mine, world().rank());
  rank_values(rank0, 0);
  broadcast_buffers(mine, world());
  CHECK(mine.a->running_mean().to_vector() == rank0.a->running_mean().to_vector());
  CHECK(mine.a->running_var().to_vector() == rank0.a->running_var().to_vector());
  CHECK(mine.b->running_mean().to_vector() == rank0.b->running_mean().to_vector());
  CHECK(mine.b->running_var().to_vector() == rank0.b->running_var().to_vector());
  // The host counter is this rank's own (every rank counts the same forward passes in training).
  CHECK(mine.a->num_batches_tracked().data<int64_t>()[0] == 10 + world().rank());
}

TEST_CASE("mpi training: N ranks of batch 2 with sync_bn reach one process's batch 2N, bitwise equal on every rank") {
  SharedDir dir;
  TrainConfig config = config_for(shared_cache(dir), dir.file("ranks"), "");
  config.sync_bn = true;
  expect_ranks_match_one_process(config, dir);  // 2 epochs of 2 steps with 2 ranks
}

TEST_CASE("mpi training: in bf16 the ranks stay bitwise equal and near one process of the whole batch") {
  SharedDir dir;
  TrainConfig config = config_for(shared_cache(dir), dir.file("ranks"), "");
  config.sync_bn = true;
  config.precision = Precision::kBFloat16;
  config.epochs = 1;
  // Measured (2 ranks, 2 steps at lr 1e-5): the batch-norm running statistics drift apart from one
  // process's by up to 0.039 (a running variance near 40) and by 3e-3 on running means near 0.01 (the
  // bfloat16 steps compound), so the values are only checked finite (an infinite tolerance still fails a
  // NaN); the ranks stay bitwise equal, which is what data parallelism must keep, and the epoch's mean
  // loss stays within 1e-3 of one process's.
  const double any = std::numeric_limits<double>::infinity();
  expect_ranks_match_one_process(config, dir, any, any, 1e-3);
}

TEST_CASE("mpi training: grad_accum 2 with batch 1 per rank reaches one process's batch N, grad_accum 2") {
  SharedDir dir;
  TrainConfig config = config_for(shared_cache(dir), dir.file("ranks"), "");
  config.sync_bn = true;
  config.batch_size = 1;
  config.grad_accum = 2;
  config.epochs = 1;
  expect_ranks_match_one_process(config, dir);  // 2 steps of 2 micro-batches with 2 ranks
}

TEST_CASE("mpi training: validation over the ranks writes one process's summary, to the digit") {
  SharedDir dir;
  const TinyCache cache = shared_cache(dir);
  TrainConfig config = config_for(cache, dir.file("ranks"), "");
  config.validate_only = true;
  train(config, world());
  if (world().rank() == 0) {
    TrainConfig single = config_for(cache, dir.file("single"), "");
    single.validate_only = true;
    train(single, single_process());
    const std::string ranks_summary = read_file(fold_paths(config, 0).summary);
    CHECK(ranks_summary.find('\n') != std::string::npos);
    CHECK(ranks_summary == read_file(fold_paths(single, 0).summary));
  }
  world().barrier();
}

TEST_CASE("mpi training: a stop on one rank stops all after the same step; resuming finishes as if never stopped") {
  SharedDir dir;
  const TinyCache cache = shared_cache(dir);
  // Batch 1 per rank: 4 steps an epoch with 2 ranks, 2 with 3 (6 items; 2 left out).
  TrainConfig whole_config = config_for(cache, dir.file("whole"), "");
  whole_config.batch_size = 1;
  const Trained whole = train(whole_config, world());
  // Per-rank batch norm: the ranks took rank 0's running statistics after every step.
  CHECK(differing_from_rank0(whole) == 0);

  TrainConfig config = config_for(cache, dir.file("stopped"), "");
  config.batch_size = 1;
  TrainOptions stopping;
  int64_t last_batch = -1;
  // Only the last rank asks, after its first batch of epoch 0; every rank must stop there.
  stopping.after_batch = [&](int, int64_t epoch, int64_t batch) {
    last_batch = epoch * 100 + batch;
    return world().rank() == world().size() - 1 && epoch == 0 && batch == 0;
  };
  const Trained none = train(config, world(), stopping);
  clear_stop_request();
  CHECK(none.values.empty());  // the fold did not end
  CHECK(last_batch == 0);

  // One process may not continue an epoch that N ranks cut into batches.
  if (world().rank() == 0) {
    TrainOptions alone;
    alone.resume = true;
    CHECK_THROWS_WITH_AS(train(config, single_process(), alone),
                         doctest::Contains("resume with the same number of ranks"), Error);
  }
  world().barrier();

  TrainOptions resume;
  resume.resume = true;
  const Trained resumed = train(config, world(), resume);
  REQUIRE(resumed.values.size() == whole.values.size());
  int differing = 0;
  for (size_t i = 0; i < whole.values.size(); ++i)
    differing += std::memcmp(whole.values[i].raw(), resumed.values[i].raw(), whole.values[i].nbytes()) != 0;
  CHECK(differing == 0);
  world().barrier();
}

namespace {

// One training step's summed gradients: each rank's block of a batch of `total` images through AlbuNet
// (batch norm synchronised or per rank), the combo loss of the whole batch, backward, summed over ranks
// after backward or (overlap) during it.
std::vector<Tensor> step_gradients(Model& model, const Tensor& images, const Tensor& masks, Communicator& comm,
                                   bool sync_bn, size_t bucket_bytes = GradientReducer::kDefaultBucketBytes,
                                   bool overlap = false) {
  synchronize_batch_norm(model, sync_bn ? &comm : nullptr);
  model.zero_grad();
  ComboLossParams loss_params;
  loss_params.group = &comm;
  Tensor loss = combo_loss(model.forward(images), masks, loss_params);
  GradientReducer reducer(model.parameters(), comm, bucket_bytes);
  if (overlap) reducer.begin_overlap();
  loss.backward();
  if (overlap) {
    reducer.finish();
  } else {
    reducer.all_reduce();
  }
  std::vector<Tensor> grads;
  for (Tensor* p : model.parameters()) grads.push_back(p->grad().defined() ? p->grad().clone() : Tensor());
  return grads;
}

}  // namespace

TEST_CASE("mpi training: one step's gradients summed over the ranks are the whole batch's") {
  const RankRows block = uneven_block();
  const Tensor images = random_tensor({block.total, 3, 64, 64}, 61, DType::kFloat32, -1.0, 1.0);
  const Tensor masks = random_tensor({block.total, 1, 64, 64}, 62, DType::kFloat32, 0.0, 1.0);  // soft targets
  for (bool sync_bn : {true, false}) {
    CAPTURE(sync_bn);
    std::shared_ptr<Model> ranks_model = make_model("albunet", 5), whole_model = make_model("albunet", 5);
    if (!sync_bn) {
      // Per-rank batch norm equals the whole batch's only where it does not use batch statistics: the
      // encoder (AlbuNet's only batch norms) frozen and in eval mode.
      for (Model* m : {ranks_model.get(), whole_model.get()}) {
        m->freeze(model_spec("albunet").encoder_prefix);
        for (auto& [name, module] : m->named_modules())
          if (dynamic_cast<BatchNorm2d*>(module) != nullptr) module->eval();
      }
    }
    const std::vector<Tensor> mine = step_gradients(*ranks_model, rows(images, block.begin, block.end),
                                                    rows(masks, block.begin, block.end), world(), sync_bn);
    const std::vector<Tensor> whole = step_gradients(*whole_model, images, masks, single_process(), false);
    REQUIRE(mine.size() == whole.size());
    int with_grad = 0;
    for (size_t k = 0; k < mine.size(); ++k) {
      REQUIRE(mine[k].defined() == whole[k].defined());
      if (!mine[k].defined()) continue;
      ++with_grad;
      expect_close(mine[k], whole[k], 1e-4, 1e-6, cat("gradient of parameter ", k));
    }
    CHECK(with_grad > 0);
    // Buckets of at most 64 KB (dozens of them, boundaries inside every stage) sum to the same values; not
    // always the same bits with 3 ranks, as MPI's reduction order depends on the message size.
    if (!sync_bn) continue;
    std::shared_ptr<Model> small_buckets = make_model("albunet", 5);
    const std::vector<Tensor> bucketed = step_gradients(*small_buckets, rows(images, block.begin, block.end),
                                                        rows(masks, block.begin, block.end), world(), true, 64 << 10);
    for (size_t k = 0; k < mine.size(); ++k)
      if (mine[k].defined()) expect_close(bucketed[k], mine[k], 1e-6, 1e-9, cat("bucketed gradient of parameter ", k));
  }
}

TEST_CASE("mpi training: the sums overlapped with backward equal the sums after it") {
  const RankRows block = uneven_block();
  const Tensor images = random_tensor({block.total, 3, 64, 64}, 63, DType::kFloat32, -1.0, 1.0);
  const Tensor masks = random_tensor({block.total, 1, 64, 64}, 64, DType::kFloat32, 0.0, 1.0);
  const Tensor mine_images = rows(images, block.begin, block.end), mine_masks = rows(masks, block.begin, block.end);
  // Synchronised batch norm: its collectives in backward run while bucket sums are in flight.
  for (size_t bucket_bytes : {GradientReducer::kDefaultBucketBytes, size_t{64} << 10}) {
    CAPTURE(bucket_bytes);
    std::shared_ptr<Model> after_model = make_model("albunet", 8), during_model = make_model("albunet", 8);
    const std::vector<Tensor> after = step_gradients(*after_model, mine_images, mine_masks, world(), true, bucket_bytes);
    const std::vector<Tensor> during =
        step_gradients(*during_model, mine_images, mine_masks, world(), true, bucket_bytes, true);
    REQUIRE(after.size() == during.size());
    int with_grad = 0, differing = 0;
    for (size_t k = 0; k < after.size(); ++k) {
      REQUIRE(after[k].defined() == during[k].defined());
      if (!after[k].defined()) continue;
      ++with_grad;
      if (world().size() == 2) {
        // Two ranks: each sum is a + b, the same bits whatever MPI's algorithm.
        differing += std::memcmp(after[k].raw(), during[k].raw(), after[k].nbytes()) != 0;
      } else {
        // Three: the nonblocking and the blocking all-reduce may add in different orders (1 ulp per add).
        expect_close(during[k], after[k], 1e-6, 1e-9, cat("overlapped gradient of parameter ", k));
      }
    }
    CHECK(with_grad == static_cast<int>(after.size()));
    CHECK(differing == 0);
  }
}
