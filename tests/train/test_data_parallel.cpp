// The data-parallel pieces on one process (train/data_parallel.h, engine/communicator.h): the single-process
// communicator leaves values as they are and refuses a foreign root; gradient buckets in reverse parameter
// order under the byte limit; the triplet search's statistics split in two and added back give the same
// result bit for bit; combo loss and batch norm with a one-rank group equal them without; the overlapped
// bucket sums (a recording two-rank communicator): started in index order during backward, each once,
// equal to the sums after backward, with frozen parameters and grad_accum; NCCL over one rank on a GPU
// (gpu suite), and its refusal without NCCL or a device. Real ranks: tests/mpi/ (under mpirun).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/cuda_runtime.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/combo_loss.h"
#include "models/registry.h"
#include "tests/testing.h"
#include "tests/twin_ranks.h"
#include "train/data_parallel.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("communicator: one process leaves every value as it is") {
  Communicator& one = single_process();
  CHECK(one.rank() == 0);
  CHECK(one.size() == 1);
  CHECK(one.describe() == "one process");
  Tensor t = random_tensor({3, 4}, 11, DType::kFloat32);
  const Tensor before = t.clone();
  one.all_reduce_sum(t);
  CHECK(same_bits(t, before));
  all_reduce_mean(one, t);
  CHECK(same_bits(t, before));
  one.broadcast(t, 0);
  CHECK(same_bits(t, before));
  std::vector<double> v = {1.5, -2.0};
  one.all_reduce_sum(v);
  CHECK(v == std::vector<double>{1.5, -2.0});
  CHECK(one.all_gather({4.0, 5.0, 6.0}) == std::vector<double>{4.0, 5.0, 6.0});
  CHECK_THROWS_WITH_AS(one.broadcast(t, 1), doctest::Contains("broadcast from rank 1"), Error);
  Tensor ints = Tensor::zeros({2}, DType::kInt64);
  CHECK_THROWS_WITH_AS(all_reduce_mean(one, ints), doctest::Contains("expected a float32 or float64"), Error);
}

TEST_CASE("communicator: without an MPI launcher the session is the single process") {
  if (launched_by_mpi()) return;  // this binary under mpirun: the case does not apply
  DistributedSession session;
  CHECK_FALSE(session.distributed());
  CHECK(&session.world() == &single_process());
}

TEST_CASE("data parallel: gradient buckets take the parameters in reverse order under the byte limit") {
  // 10, 30, 20, 5 floats = 40, 120, 80, 20 bytes; limit 100 bytes: [3 2] (100), [1] (120, alone), [0].
  std::vector<Tensor> storage = {Tensor::zeros({10}), Tensor::zeros({30}), Tensor::zeros({20}), Tensor::zeros({5})};
  std::vector<Tensor*> params;
  for (Tensor& t : storage) params.push_back(&t);
  GradientReducer reducer(params, single_process(), 100);
  REQUIRE(reducer.buckets().size() == 3);
  CHECK(reducer.buckets()[0] == std::vector<size_t>{3, 2});
  CHECK(reducer.buckets()[1] == std::vector<size_t>{1});
  CHECK(reducer.buckets()[2] == std::vector<size_t>{0});
  GradientReducer one_bucket(params, single_process());
  CHECK(one_bucket.buckets().size() == 1);
  Tensor ints = Tensor::zeros({4}, DType::kInt64);
  std::vector<Tensor*> bad = {&ints};
  CHECK_THROWS_WITH_AS(GradientReducer(bad, single_process()), doctest::Contains("summed over ranks as float32"), Error);
}

TEST_CASE("data parallel: a search's statistics, split and added back in order, give the same result") {
  const std::vector<Triplet> triplets = config_triplets();
  Tensor scores = random_tensor({7, 1, 40, 40}, 5, DType::kFloat32, 0.0, 1.0);
  Tensor truth = random_tensor({7, 1, 40, 40}, 6, DType::kFloat32, 0.0, 1.0);
  float* t = truth.data<float>();
  for (int64_t i = 0; i < truth.numel(); ++i) t[i] = t[i] > 0.8f ? 1.0f : 0.0f;
  MetricOptions options;
  TripletSearch whole(triplets, options), first(triplets, options);
  whole.add(scores, truth);
  first.add(scores, truth);
  const std::vector<int64_t>& rows = first.statistics();
  const size_t cut = rows.size() / 7 * 3;
  TripletSearch merged(triplets, options);
  merged.add_statistics(std::vector<int64_t>(rows.begin(), rows.begin() + static_cast<long>(cut)));
  merged.add_statistics(std::vector<int64_t>(rows.begin() + static_cast<long>(cut), rows.end()));
  CHECK(merged.images() == 7);
  const TripletSearchResult a = whole.result(), b = merged.result();
  CHECK(a.scores == b.scores);
  CHECK(a.best == b.best);
  // The one-process gather is the search itself.
  CHECK(gather_search(whole, single_process()).result().scores == a.scores);
  CHECK_THROWS_WITH_AS(merged.add_statistics({1, 2, 3}), doctest::Contains("are not rows of"), Error);
}

TEST_CASE("data parallel: combo loss and batch norm with a one-rank group equal them without") {
  Communicator& one = single_process();
  for (DiceMode mode : {DiceMode::kBatch, DiceMode::kPerImage}) {
    Tensor logits = random_tensor({3, 1, 8, 8}, 21, DType::kFloat64, -3.0, 3.0).set_requires_grad(true);
    Tensor targets = random_tensor({3, 1, 8, 8}, 22, DType::kFloat64, 0.0, 1.0);
    ComboLossParams plain;
    plain.dice_mode = mode;
    ComboLossParams grouped = plain;
    grouped.group = &one;
    Tensor a = combo_loss(logits, targets, plain);
    a.backward();
    const Tensor grad_a = logits.grad().clone();
    logits.zero_grad();
    Tensor b = combo_loss(logits, targets, grouped);
    b.backward();
    CHECK(a.item() == b.item());
    CHECK(same_bits(grad_a, logits.grad()));
  }
  Tensor x = random_tensor({2, 3, 4, 5}, 31, DType::kFloat64);
  Tensor w = random_tensor({3}, 32, DType::kFloat64), bias = random_tensor({3}, 33, DType::kFloat64);
  Tensor rm1 = Tensor::zeros({3}, DType::kFloat64), rv1 = Tensor::ones({3}, DType::kFloat64);
  Tensor rm2 = rm1.clone(), rv2 = rv1.clone();
  const Tensor y1 = batch_norm2d(x, w, bias, rm1, rv1, {});
  const Tensor y2 = batch_norm2d(x, w, bias, rm2, rv2, {.sync = &one});
  CHECK(same_bits(y1, y2));
  CHECK(same_bits(rv1, rv2));
}

namespace {

// TwinRanks (tests/twin_ranks.h) recording the sums started asynchronously: each one's length (which
// tells the bucket), whether `watched` had a gradient then, and whether it was waited for. An
// asynchronous sum is done only by its wait(), so a result read without it shows.
class RecordingTwinRanks final : public TwinRanks {
 public:
  struct Start {
    int64_t numel = 0;
    bool watched_had_grad = false;
    bool waited = false;
  };
  explicit RecordingTwinRanks(const Tensor* watched = nullptr) : watched_(watched) {}
  std::unique_ptr<PendingReduce> all_reduce_sum_async(Tensor& t) override {
    starts.push_back({t.numel(), watched_ != nullptr && watched_->grad().defined(), false});
    return std::make_unique<Pending>(t, *this, starts.size() - 1);
  }
  std::vector<Start> starts;

 private:
  class Pending final : public PendingReduce {
   public:
    Pending(Tensor t, RecordingTwinRanks& ranks, size_t index) : t_(std::move(t)), ranks_(ranks), index_(index) {}
    void wait() override {
      if (ranks_.starts[index_].waited) return;
      ranks_.TwinRanks::all_reduce_sum(t_);
      ranks_.starts[index_].waited = true;
    }
    bool test() override { return ranks_.starts[index_].waited; }

   private:
    Tensor t_;
    RecordingTwinRanks& ranks_;
    size_t index_;
  };
  const Tensor* watched_;
};

// The length of bucket k's flat buffer: its gradients and one flag per parameter.
int64_t bucket_numel(const GradientReducer& reducer, const std::vector<Tensor*>& params, size_t k) {
  int64_t n = 0;
  for (size_t p : reducer.buckets()[k]) n += params[p]->numel() + 1;
  return n;
}

std::vector<Tensor> gradients(Model& model) {
  std::vector<Tensor> grads;
  for (Tensor* p : model.parameters()) grads.push_back(p->grad().defined() ? p->grad().clone() : Tensor());
  return grads;
}

int differing(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  REQUIRE(a.size() == b.size());
  int n = 0;
  for (size_t k = 0; k < a.size(); ++k)
    n += a[k].defined() != b[k].defined() || (a[k].defined() && !same_bits(a[k], b[k]));
  return n;
}

// `passes` backward passes of AlbuNet's combo loss on seeded 64x64 images, the model's gradients summed by
// `reducer`: after the last pass (overlap false), or overlapped with it.
void backward_and_sum(Model& model, GradientReducer& reducer, int passes, bool overlap) {
  model.zero_grad();
  for (int pass = 0; pass < passes; ++pass) {
    const Tensor images = random_tensor({2, 3, 64, 64}, 80 + pass, DType::kFloat32);
    const Tensor masks = random_tensor({2, 1, 64, 64}, 90 + pass, DType::kFloat32, 0.0, 1.0);
    Tensor loss = combo_loss(model.forward(images), masks, {});
    const bool last = pass == passes - 1;
    if (overlap && last) reducer.begin_overlap();
    loss.backward();
  }
  if (overlap) {
    reducer.finish();
  } else {
    reducer.all_reduce();
  }
}

}  // namespace

TEST_CASE("data parallel: overlapped bucket sums start in index order during backward, once each, and equal the "
          "sums after it") {
  for (size_t bucket_bytes : {GradientReducer::kDefaultBucketBytes, size_t{64} << 10}) {
    CAPTURE(bucket_bytes);
    std::shared_ptr<Model> model = make_model("albunet", 5);
    const std::vector<Tensor*> params = model->parameters();
    RecordingTwinRanks after;
    GradientReducer reference(params, after, bucket_bytes);
    backward_and_sum(*model, reference, 1, false);
    CHECK(after.starts.empty());
    const std::vector<Tensor> expected = gradients(*model);

    // params[0] (the encoder's first convolution) is the last gradient backward finishes.
    RecordingTwinRanks ranks(params.front());
    GradientReducer reducer(params, ranks, bucket_bytes);
    const size_t buckets = reducer.buckets().size();
    if (bucket_bytes == GradientReducer::kDefaultBucketBytes) CHECK(buckets == 7);  // README's count
    CHECK(buckets > 1);
    model->zero_grad();
    const Tensor images = random_tensor({2, 3, 64, 64}, 80, DType::kFloat32);
    const Tensor masks = random_tensor({2, 1, 64, 64}, 90, DType::kFloat32, 0.0, 1.0);
    Tensor loss = combo_loss(model->forward(images), masks, {});
    reducer.begin_overlap();
    loss.backward();
    // Every parameter gets a gradient in backward: every bucket started inside it, the first one before
    // params[0] had its gradient, the last one after; none finished (this communicator's finish on wait).
    REQUIRE(ranks.starts.size() == buckets);
    CHECK_FALSE(ranks.starts.front().watched_had_grad);
    CHECK(ranks.starts.back().watched_had_grad);
    for (size_t k = 0; k < buckets; ++k) {
      CAPTURE(k);
      CHECK(ranks.starts[k].numel == bucket_numel(reducer, params, k));
      CHECK_FALSE(ranks.starts[k].waited);
    }
    reducer.finish();
    CHECK(ranks.starts.size() == buckets);
    for (const RecordingTwinRanks::Start& start : ranks.starts) CHECK(start.waited);
    CHECK(differing(gradients(*model), expected) == 0);
  }
}

TEST_CASE("data parallel: overlapped sums with frozen parameters and a grad_accum window equal the sums after "
          "backward") {
  std::shared_ptr<Model> model = make_model("albunet", 6);
  const int frozen = model->freeze(model_spec("albunet").encoder_prefix);
  CHECK(frozen > 0);
  const std::vector<Tensor*> params = model->parameters();
  RecordingTwinRanks after;
  GradientReducer reference(params, after, size_t{1} << 20);
  backward_and_sum(*model, reference, 2, false);
  const std::vector<Tensor> expected = gradients(*model);
  int without = 0;
  for (const Tensor& g : expected) without += !g.defined();
  CHECK(without == frozen);  // the frozen parameters stay without a gradient

  RecordingTwinRanks ranks;
  GradientReducer reducer(params, ranks, size_t{1} << 20);
  backward_and_sum(*model, reducer, 2, true);  // the first pass only accumulates
  CHECK(ranks.starts.size() == reducer.buckets().size());
  CHECK(differing(gradients(*model), expected) == 0);

  // Misuse is refused, naming what was expected.
  expect_error([&] { reducer.finish(); }, {"finish() without begin_overlap()"});
  reducer.begin_overlap();
  expect_error([&] { reducer.begin_overlap(); }, {"begin_overlap() called twice"});
  const Tensor images = random_tensor({2, 3, 64, 64}, 81, DType::kFloat32);
  const Tensor masks = random_tensor({2, 1, 64, 64}, 91, DType::kFloat32, 0.0, 1.0);
  combo_loss(model->forward(images), masks, {}).backward();
  Tensor second = combo_loss(model->forward(images), masks, {});
  expect_error([&] { second.backward(); }, {"second backward pass before finish()"});
  reducer.finish();

  // One process: nothing to sum, no hook, the gradients as backward left them.
  GradientReducer alone(params, single_process());
  model->zero_grad();
  Tensor loss = combo_loss(model->forward(images), masks, {});
  alone.begin_overlap();
  loss.backward();
  const std::vector<Tensor> local = gradients(*model);
  alone.finish();
  CHECK(differing(gradients(*model), local) == 0);
}

TEST_CASE("communicator: NCCL over one rank sums and broadcasts CUDA tensors; buckets reduce on the GPU" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  if (!nccl_built()) {
    CHECK_THROWS_WITH_AS(make_gpu_communicator(single_process(), 0), doctest::Contains("no NCCL"), Error);
    return;
  }
  std::unique_ptr<Communicator> nccl = make_gpu_communicator(single_process(), 0);
  CHECK(nccl->describe().find("NCCL") != std::string::npos);
  CHECK(nccl->size() == 1);
  const Tensor host = random_tensor({5, 7}, 21, DType::kFloat32);
  Tensor dev = host.to(Device::cuda(0));
  nccl->all_reduce_sum(dev);  // one rank: the sum is the value itself, through NCCL's kernels
  nccl->broadcast(dev, 0);
  CHECK(same_bits(dev.to(Device::cpu()), host));
  Tensor cpu_side = host.clone();
  nccl->all_reduce_sum(cpu_side);  // CPU tensors go through the host communicator
  CHECK(same_bits(cpu_side, host));
  CHECK_THROWS_WITH_AS(nccl->broadcast(dev, 1), doctest::Contains("broadcast from rank 1"), Error);

  // The gradient buckets on the GPU: the flat buffer stays on the device and the gradients come back.
  Tensor a = random_tensor({300}, 22, DType::kFloat32).to(Device::cuda(0)).set_requires_grad(true);
  Tensor b = random_tensor({40, 3}, 23, DType::kFloat32).to(Device::cuda(0)).set_requires_grad(true);
  const Tensor grad_a = random_tensor({300}, 24, DType::kFloat32);
  a.impl().grad = grad_a.to(Device::cuda(0)).impl_ptr();
  GradientReducer reducer({&a, &b}, *nccl, 512);
  CHECK(reducer.buckets().size() == 2);
  reducer.all_reduce();
  CHECK(same_bits(a.grad().to(Device::cpu()), grad_a));
  CHECK(!b.grad().defined());  // no gradient on any rank: still none
}

TEST_CASE("communicator: the GPU communicator refuses a build without NCCL or a machine without the device") {
  if (nccl_built() && cuda::device_count() > 0) return;  // the gpu case above covers it
  CHECK_THROWS_AS(make_gpu_communicator(single_process(), 0), Error);
}
