// One training epoch and one validation pass of a fold (train/fold_trainer.h), after the reference's
// Learning.train_epoch / batch_train / valid_epoch. Tests: tests/tools/test_train_unet.cpp.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/combo_loss.h"
#include "engine/ops/sigmoid.h"
#include "engine/random.h"
#include "train/fold_trainer.h"

namespace pleura {

namespace {

constexpr uint64_t kShuffleStream = 0x53485546464C4531ULL;  // "SHUFFLE1"

using Clock = std::chrono::steady_clock;
double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::string loss_status(double mean_loss, double lr) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "loss %.4f lr %.3g", mean_loss, lr);
  return buf;
}

}  // namespace

std::vector<int64_t> epoch_order(const FoldRun& run, int64_t epoch) {
  if (run.sampler) return run.sampler->epoch_indices(epoch);
  // [sampler] enabled = false: the reference's DataLoader(shuffle=True), every item once in a seeded order.
  std::vector<int64_t> order(run.split.train.size());
  std::iota(order.begin(), order.end(), 0);
  Rng rng(derive_seed(run.seed, static_cast<uint64_t>(epoch), kShuffleStream));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

bool train_epoch(FoldRun& run) {
  const TrainConfig& c = run.config;
  TrainingState& st = run.state;
  run.model->train(true);
  Loader& loader = *run.train_loader;
  loader.start_epoch(st.epoch, epoch_order(run, st.epoch));
  const int64_t batches = loader.num_batches();
  PLEURA_CHECK(st.batch <= batches, "[train] the saved position (batch ", st.batch, " of epoch ", st.epoch,
               ") lies beyond the epoch's ", batches, " batches");
  // Resuming inside an epoch: the batches already trained are made again and dropped. Each item's
  // augmentation depends only on (seed, epoch, position), so the batches that follow are the same as in
  // an uninterrupted run (the Loader cannot start part way into an epoch).
  for (int64_t b = 0; b < st.batch; ++b) loader.next();

  const std::vector<Tensor*> params = run.model->parameters();
  EpochProgress bar(run.progress, run.options.terminal, cat("fold ", run.fold, " epoch ", st.epoch, " train"), batches,
                    st.batch);
  for (int64_t b = st.batch; b < batches; ++b) {
    const Clock::time_point t0 = Clock::now();
    std::optional<Batch> batch = loader.next();
    PLEURA_CHECK(batch.has_value(), "[train] the loader ended epoch ", st.epoch, " after ", b, " of ", batches,
                 " batches");
    const Clock::time_point t1 = Clock::now();
    Tensor images = batch->images.to(c.device), masks = batch->masks.to(c.device);
    Tensor loss = combo_loss(run.model->forward(images), masks, c.loss);
    loss.backward();
    const double value = loss.item();
    // Learning.batch_train: the step happens on every grad_accum-th batch of the epoch (batch_idx counts
    // from 0 each epoch); gradients of a short remainder carry over into the next epoch, as there.
    if (b % c.grad_accum == c.grad_accum - 1) {
      const double factor = c.grad_clip > 0 ? clip_factor(grad_norm(params), c.grad_clip) : 1.0;
      run.adam->step(factor);
      run.adam->zero_grad();
    }
    st.loss_sum += value;
    ++st.loss_count;
    st.batch = b + 1;
    const Clock::time_point t2 = Clock::now();
    st.wait_seconds += seconds_between(t0, t1);
    st.epoch_seconds += seconds_between(t0, t2);
    bar.advance(loss_status(st.loss_sum / static_cast<double>(st.loss_count), run.adam->lr()));
    if (run.options.after_batch && run.options.after_batch(run.fold, st.epoch, b)) request_stop(2 /* SIGINT */);
    if (stop_requested() && st.batch < batches) {
      bar.finish("stopped");
      return false;
    }
  }
  st.training_done = true;
  bar.finish(loss_status(st.loss_count ? st.loss_sum / static_cast<double>(st.loss_count) : NAN, run.adam->lr()));
  return true;
}

std::optional<TripletSearchResult> validate(FoldRun& run) {
  const TrainConfig& c = run.config;
  run.model->eval();
  NoGradGuard no_grad;
  Loader& loader = *run.valid_loader;
  std::vector<int64_t> order(run.split.valid.size());
  std::iota(order.begin(), order.end(), 0);  // the fold's images in file order
  loader.start_epoch(0, order);
  MetricOptions metric;
  metric.average = c.average;
  metric.batch_size = c.batch_size;
  TripletSearch search(c.triplets, metric);
  EpochProgress bar(run.progress, run.options.terminal, cat("fold ", run.fold, " epoch ", run.state.epoch, " valid"),
                    loader.num_batches());
  std::string status;
  while (std::optional<Batch> batch = loader.next()) {
    Tensor images = batch->images.to(c.device), masks = batch->masks.to(c.device);
    // The reference thresholds sigmoid probabilities (Learning.batch_valid).
    search.add(sigmoid(run.model->forward(images)), masks, ScoreKind::kProbability);
    const TripletSearchResult so_far = search.result();
    char buf[96];
    std::snprintf(buf, sizeof(buf), "score %.5f on ", so_far.best_score());
    status = buf + triplet_label(so_far.best_triplet());
    bar.advance(status);
    if (stop_requested()) {
      bar.finish("stopped");
      return std::nullopt;
    }
  }
  bar.finish(status);
  return search.result();
}

}  // namespace pleura
