// One training epoch and one validation pass of a fold (train/fold_trainer.h), after the reference's
// Learning.train_epoch / batch_train / valid_epoch. Tests: tests/tools/test_train_unet.cpp.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/combo_loss.h"
#include "engine/ops/copy_tensors.h"
#include "engine/ops/step_ledger.h"
#include "engine/ops/sigmoid.h"
#include "engine/random.h"
#include "data/shard.h"
#include "train/captured_steps.h"
#include "train/data_parallel.h"
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

std::string score_status(const TripletSearchResult& so_far) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "score %.5f on ", so_far.best_score());
  return buf + triplet_label(so_far.best_triplet());
}

// The buffers a training step changes on the device (BatchNorm running statistics). num_batches_tracked
// stays on the host (no kernel reads it), counts every training forward pass, skipped steps included,
// and is not part of the snapshot: putting it back would need the host to read the ledger.
std::vector<Tensor> buffers_of(Module& model) {
  std::vector<Tensor> buffers;
  for (Tensor* buffer : model.device_buffers()) buffers.push_back(*buffer);
  return buffers;
}

// A snapshot of the model's device buffers, which move in every training forward pass: a skipped step
// puts them back, so that a bad batch leaves no trace in the model's statistics.
// The copies are made once and refilled at each window's start (a few launches on CUDA, no allocation).
void snapshot_buffers(Module& model, std::vector<Tensor>& snapshot) {
  const std::vector<Tensor> buffers = buffers_of(model);
  if (snapshot.size() != buffers.size()) {
    snapshot.clear();
    for (const Tensor& b : buffers) snapshot.push_back(Tensor::empty_like(b));
  }
  copy_tensors(buffers, snapshot);
}

// The ledger of the epoch's steps (engine/ops/step_ledger.h), on the training device, starting from the
// saved state: the epoch's loss so far and the fold's skipped steps.
Tensor epoch_ledger(const FoldRun& run) {
  const TrainingState& st = run.state;
  StepLedger l;
  l.loss_sum = st.loss_sum;
  l.loss_count = static_cast<double>(st.loss_count);
  l.skipped_in_a_row = static_cast<double>(st.nonfinite_in_a_row);
  l.skipped_total = static_cast<double>(st.nonfinite_total);
  l.next_batch = static_cast<double>(st.batch);
  return make_step_ledger(l, run.config.device);
}

StepRule step_rule(const TrainConfig& c) {
  return {.max_norm = c.grad_clip, .max_skipped_in_a_row = static_cast<double>(c.max_nonfinite_steps)};
}

// The optimizer step of a batch that ends a grad_accum window, queued on the device without a host read:
// the ledger decides from the gradient norm and the window's losses, and a NaN / infinite loss or norm
// skips the step, leaving weights and Adam state as they are, and puts back the buffers as they were
// before the window (`window_buffers`). The window's gradients are dropped either way.
void optimizer_step(FoldRun& run, const Tensor& loss, std::vector<Tensor>& window_buffers) {
  // The window's gradients summed over the ranks (started during the last backward pass, train_epoch):
  // every rank sees the same norm and takes the same step.
  run.reducer->finish();
  decide_and_step(*run.adam, run.ledger, loss, step_rule(run.config));
  std::vector<Tensor> buffers = buffers_of(*run.model);
  ledger_restore_if_skipped(run.ledger, buffers, window_buffers);
  run.adam->zero_grad();
  // Per-rank batch norm: every rank continues with rank 0's running statistics (synchronised ones agree).
  if (run.distributed() && !run.config.sync_bn) broadcast_buffers(*run.model, *run.comm);
}

// The epoch's state that every batch's device work uses.
struct BatchWork {
  ComboLossParams loss_params;
  std::vector<Tensor> window_buffers;  // the model's device buffers as the open window began
  bool window_open = false;            // window_buffers holds the open window's snapshot
};

// The device work of batch b, queued without a host read: forward, combo loss, backward and, when b ends
// a grad_accum window, the optimizer step (else the ledger only records the loss). Returns the loss.
Tensor train_batch(FoldRun& run, BatchWork& w, const Tensor& images, const Tensor& masks, int64_t b) {
  const TrainConfig& c = run.config;
  // A resume inside a grad_accum window starts its copy there (the batches before are not redone).
  if (b % c.grad_accum == 0 || !w.window_open) snapshot_buffers(*run.model, w.window_buffers);
  w.window_open = true;
  Tensor loss = combo_loss(run.model->forward(images), masks, w.loss_params);
  const bool ends_window = b % c.grad_accum == c.grad_accum - 1;
  // The window's last backward pass starts the sums over the ranks as the gradient buckets become final;
  // the others only accumulate.
  if (ends_window) run.reducer->begin_overlap();
  loss.backward();
  if (run.options.after_backward) run.options.after_backward(run.fold, run.state.epoch, b, run.model->parameters());
  // Learning.batch_train: the step happens on every grad_accum-th batch of the epoch (batch_idx counts
  // from 0 each epoch); gradients of a short remainder carry over into the next epoch, as there.
  if (ends_window) {
    optimizer_step(run, loss.detach(), w.window_buffers);
    w.window_open = false;
  } else {
    ledger_record_batch(run.ledger, loss.detach(), Tensor{}, step_rule(c));
  }
  return loss.detach();
}

// [run] cuda_graphs: the epoch's batches as a CUDA graph (train/captured_steps.h), or null when they run
// as they are (the option off; a test's after_backward hook, which reads the host's gradients). The
// graph's batch index is `b` as the loop sets it (with grad_accum = 1 every batch does the same work).
std::unique_ptr<CapturedSteps> captured_steps(FoldRun& run, BatchWork& w, const int64_t& b) {
  if (!run.config.cuda_graphs || run.options.after_backward) return nullptr;
  PLEURA_CHECK(!run.distributed(), run.config.where("run.cuda_graphs"), ": CUDA graphs are not offered with ",
               run.comm->size(), " ranks yet (one process only)");
  return std::make_unique<CapturedSteps>(
      *run.model, [&run, &w, &b](const Tensor& images, const Tensor& masks) { return train_batch(run, w, images, masks, b); },
      [&run](const std::string& note) { run.log.line(note); });
}

// The host's reading of the ledger (its one read): the epoch's loss and the skipped steps go into the
// state, the skips since the last reading are logged, and a ledger that gave up ends the epoch with
// NonFiniteSteps, the state at the batch that gave up (trained again on --resume).
void read_ledger(FoldRun& run) {
  TrainingState& st = run.state;
  const StepLedger l = read_step_ledger(run.ledger);
  const int64_t skipped = static_cast<int64_t>(l.skipped_total) - st.nonfinite_total;
  st.loss_sum = l.loss_sum;
  st.loss_count = static_cast<int64_t>(l.loss_count);
  st.nonfinite_in_a_row = static_cast<int64_t>(l.skipped_in_a_row);
  st.nonfinite_total = static_cast<int64_t>(l.skipped_total);
  if (skipped == 0) return;
  const std::string what = cat("epoch ", st.epoch, " batch ", static_cast<int64_t>(l.last_skipped_batch), ": loss ",
                               format_number(l.last_skipped_loss), ", gradient norm ", format_number(l.last_skipped_norm));
  const std::string steps = skipped == 1 ? "non-finite step skipped (" : cat(skipped, " non-finite steps skipped, the last (");
  run.log.line(cat(steps, what, "); weights and optimizer state unchanged; ", st.nonfinite_in_a_row, " in a row, ",
                   st.nonfinite_total, " in this fold"));
  if (l.gave_up != 0.0) {
    st.batch = static_cast<int64_t>(l.gave_up_batch);
    throw NonFiniteSteps{what};
  }
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

// The epoch's order, or with several ranks this rank's share of it (data/shard.h), given to the loader.
void start_training_epoch(FoldRun& run) {
  const TrainingState& st = run.state;
  std::vector<int64_t> order = epoch_order(run, st.epoch);
  if (!run.distributed()) {
    run.train_loader->start_epoch(st.epoch, std::move(order));
    return;
  }
  EpochShard shard = shard_epoch(order, run.config.batch_size, run.comm->rank(), run.comm->size());
  if (shard.left_out > 0 && st.batch == 0)
    run.log.line(cat("epoch ", st.epoch, ": the last ", shard.left_out, " item(s) are left out (fewer than the ",
                     run.comm->size(), " ranks)"));
  run.train_loader->start_epoch(st.epoch, std::move(shard.order), std::move(shard.positions));
}

bool train_epoch(FoldRun& run) {
  const TrainConfig& c = run.config;
  TrainingState& st = run.state;
  run.model->train(true);
  Loader& loader = *run.train_loader;
  start_training_epoch(run);
  const int64_t batches = loader.num_batches();
  PLEURA_CHECK(st.batch <= batches, "[train] the saved position (batch ", st.batch, " of epoch ", st.epoch,
               ") lies beyond the epoch's ", batches, " batches");
  // Resuming inside an epoch: the batches already trained are made again and dropped. Each item's
  // augmentation depends only on (seed, epoch, position), so the batches that follow are the same as in
  // an uninterrupted run (the Loader cannot start part way into an epoch).
  for (int64_t b = 0; b < st.batch; ++b) loader.next();

  BatchWork work;
  work.loss_params = c.loss;
  work.loss_params.group = run.comm;  // several ranks: the loss of the whole step's batch
  work.loss_params.check_on_host = false;  // no host read: a bad value gives a NaN loss, which the ledger skips
  const int64_t log_every = log_interval(c);
  run.ledger = epoch_ledger(run);  // a resume starts a fresh grad_accum window
  const int64_t first_batch = st.batch;
  int64_t b = first_batch;
  const std::unique_ptr<CapturedSteps> graph = captured_steps(run, work, b);
  EpochProgress bar(run.progress, run.options.terminal, cat("fold ", run.fold, " epoch ", st.epoch, " train"), batches,
                    st.batch);
  std::string status = st.loss_count ? loss_status(st.loss_sum / static_cast<double>(st.loss_count), run.adam->lr()) : "";
  for (; b < batches; ++b) {
    const Clock::time_point t0 = Clock::now();
    std::optional<Batch> batch = loader.next();
    PLEURA_CHECK(batch.has_value(), "[train] the loader ended epoch ", st.epoch, " after ", b, " of ", batches,
                 " batches");
    const Clock::time_point t1 = Clock::now();
    const Tensor images = batch->images.to(c.device), masks = batch->masks.to(c.device);
    if (graph)
      (*graph)(images, masks);
    else
      train_batch(run, work, images, masks, b);
    st.batch = b + 1;
    const Clock::time_point t2 = Clock::now();
    st.wait_seconds += seconds_between(t0, t1);
    st.epoch_seconds += seconds_between(t0, t2);
    // The host reads the ledger every log_every batches and at the epoch's end (the epoch's mean loss
    // counts the finite losses; a skipped step is logged on its own).
    if ((b + 1) % log_every == 0 || b + 1 == batches) {
      read_ledger(run);
      status = loss_status(st.loss_sum / static_cast<double>(st.loss_count), run.adam->lr());
    }
    bar.advance(status);
    if (run.options.after_batch && run.options.after_batch(run.fold, st.epoch, b)) request_stop(2 /* SIGINT */);
    if (agree_on_stop(*run.comm) && st.batch < batches) {
      read_ledger(run);  // the state saved on the way out holds every batch trained
      bar.finish("stopped");
      return false;
    }
  }
  st.training_done = true;
  if (graph)
    run.log.line(cat("epoch ", st.epoch, ": ", graph->replays(), " of ", batches - first_batch,
                     " batches ran as a replayed CUDA graph"));
  bar.finish(loss_status(st.loss_count ? st.loss_sum / static_cast<double>(st.loss_count) : NAN, run.adam->lr()));
  return true;
}

std::optional<TripletSearchResult> validate(FoldRun& run) {
  const TrainConfig& c = run.config;
  run.model->eval();
  NoGradGuard no_grad;
  Loader& loader = *run.valid_loader;
  // The fold's images in file order; with several ranks, this rank's block of them.
  const Block block = block_of(static_cast<int64_t>(run.split.valid.size()), run.comm->rank(), run.comm->size());
  std::vector<int64_t> order(static_cast<size_t>(block.end - block.begin));
  std::iota(order.begin(), order.end(), block.begin);
  loader.start_epoch(0, order);
  MetricOptions metric;
  metric.average = c.average;
  metric.batch_size = c.batch_size;
  TripletSearch search(c.triplets, metric);
  EpochProgress bar(run.progress, run.options.terminal, cat("fold ", run.fold, " epoch ", run.state.epoch, " valid"),
                    loader.num_batches());
  while (std::optional<Batch> batch = loader.next()) {
    Tensor images = batch->images.to(c.device), masks = batch->masks.to(c.device);
    // The reference thresholds sigmoid probabilities (Learning.batch_valid).
    search.add(sigmoid(run.model->forward(images)), masks, ScoreKind::kProbability);
    bar.advance(score_status(search.result()));
    // With several ranks the stop waits for the end of the pass (the ranks' blocks differ in length).
    if (!run.distributed() && stop_requested()) {
      bar.finish("stopped");
      return std::nullopt;
    }
  }
  const TripletSearch all = gather_search(search, *run.comm);
  if (run.distributed() && agree_on_stop(*run.comm)) {
    bar.finish("stopped");
    return std::nullopt;
  }
  TripletSearchResult result = all.result();
  bar.finish(score_status(result));
  return result;
}

}  // namespace pleura
