// The training loop of tools/train_unet, with the reference's semantics (unet_pipeline/Train.py and
// Learning.py): fold by fold; per epoch the sampler's order, loss.backward() per batch and every
// grad_accum batches clip to max norm, Adam step, zero_grad; validation every `frequency` epochs with the
// triplet grid; top-k / best checkpoints, the scheduler step and early stopping after each validation.
// Stops cleanly on a stop request (engine/interrupt.h; the tools' runner sets it on SIGINT / SIGTERM): the
// step in progress ends, `last` is saved with the position inside the epoch, and --resume continues bit
// for bit (on the CPU). An optimizer step whose loss or gradient is NaN or infinite is skipped, weights and
// Adam state untouched, and logged; [train] max_nonfinite_steps such steps in a row save `last` and end the
// run with an error naming them. Implementation in train/trainer.cpp (setup, resume, checkpoints) and
// train/train_epoch.cpp (the epoch itself); tests in tests/tools/test_train_unet.cpp.
//
// Files per fold k, under [run] output:
//   <best_folder>/<pipeline>_fold<k>.safetensors                   best weights (the reference's .pth)
//   <full_folder>/fold<k>/<pipeline>_fold<k>_epoch<e>.safetensors  the top-k by validation score
//   <full_folder>/fold<k>/<pipeline>_fold<k>_last.safetensors      weights after the last epoch / stop
//   <full_folder>/fold<k>/<pipeline>_fold<k>_last_state.safetensors   what --resume reads
//   <full_folder>/fold<k>/summary.csv, metrics.csv, learning_curve.png
//   <log_dir>/train_main.log, <log_dir>/train_fold<k>.log
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/communicator.h"
#include "engine/interrupt.h"
#include "engine/tensor.h"
#include "layers/module.h"
#include "train/train_config.h"

namespace pleura {

struct TrainOptions {
  bool resume = false;    // continue each fold from its last state (a finished fold is skipped)
  bool terminal = false;  // progress as a bar redrawn in place (else plain lines)
  // Data-parallel training (train/data_parallel.h) over these ranks, each running run_training with the
  // same configuration; null or one rank: this process alone. Rank 0 alone writes files, logs and
  // progress; [train] batch_size is per rank.
  Communicator* world = nullptr;
  // Test hook, called after every training batch: returning true requests a stop, as a signal does.
  std::function<bool(int fold, int64_t epoch, int64_t batch)> after_batch;
  // Test hook, called after each batch's backward pass with the model's parameters, before any optimizer
  // step: the tests put a NaN into a gradient here to exercise the non-finite step handling.
  std::function<void(int fold, int64_t epoch, int64_t batch, const std::vector<Tensor*>& params)> after_backward;
  // Test hook, called when a fold's training ends (not when it stops early on a request) with the model:
  // the data-parallel tests compare the ranks' weights, which only rank 0 writes to files.
  std::function<void(int fold, Module& model)> after_fold;
};

enum class TrainOutcome {
  kFinished,     // every fold trained (or skipped as finished)
  kInterrupted,  // a stop was requested; `last` was saved
};

// Runs the whole configuration. Logs go to `out` (and the log files), the progress display to `progress`.
TrainOutcome run_training(const TrainConfig& config, const TrainOptions& options, std::ostream& out,
                          std::ostream& progress);

// The paths above, for fold `fold` of `config`.
struct FoldPaths {
  std::string history;  // <output>/<full_folder>/fold<k>
  std::string best;     // <output>/<best_folder>/<pipeline>_fold<k>.safetensors
  std::string last, last_state;
  std::string summary, metrics, curve;
  std::string log;      // <output>/<log_dir>/train_fold<k>.log
  std::string epoch_checkpoint(int64_t epoch) const;
  std::string prefix;   // <history>/<pipeline>_fold<k>
};
FoldPaths fold_paths(const TrainConfig& config, int fold);

}  // namespace pleura
