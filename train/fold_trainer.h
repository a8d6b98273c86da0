// Internal to the trainer (train/trainer.h): the state of one fold's run, shared by train/trainer.cpp
// (setup, resume, checkpoints, the epoch loop) and train/train_epoch.cpp (training and validating one
// epoch).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <ostream>
#include <string>
#include <vector>

#include "models/model.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "train/optimizer.h"
#include "data/sampler.h"
#include "train/scheduler.h"
#include "train/train_log.h"
#include "train/trainer.h"
#include "train/triplet_search.h"

namespace pleura {

struct FoldRun {
  FoldRun(const TrainConfig& c, const TrainOptions& o, int k, FoldPaths p, RunLog& l, std::ostream& progress_out,
          FoldSplit s, uint64_t fold_seed)
      : config(c), options(o), fold(k), paths(std::move(p)), log(l), progress(progress_out), split(std::move(s)),
        seed(fold_seed) {}

  const TrainConfig& config;
  const TrainOptions& options;
  int fold = 0;
  FoldPaths paths;
  RunLog& log;
  std::ostream& progress;
  FoldSplit split;
  uint64_t seed = 0;  // this fold's seed (derive_seed(config seed, fold))

  std::shared_ptr<Model> model;
  std::unique_ptr<Adam> adam;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<EpochSampler> sampler;  // null when [sampler] enabled = false
  std::unique_ptr<Loader> train_loader, valid_loader;
  TrainingState state;
  // The step ledger of the epoch in training (engine/ops/step_ledger.h), on the training device: the loss
  // and the skipped steps the host has not read yet.
  Tensor ledger;

  // Data parallel (train/data_parallel.h): the ranks, and whether this one writes the files (rank 0).
  Communicator* comm = nullptr;
  std::unique_ptr<GradientReducer> reducer;
  bool distributed() const { return comm->size() > 1; }
  bool writes() const { return comm->rank() == 0; }
};

// The dataset order of training epoch `epoch`: the sampler's, or a seeded shuffle of every item.
std::vector<int64_t> epoch_order(const FoldRun& run, int64_t epoch);

// Thrown by train_epoch when [train] max_nonfinite_steps optimizer steps in a row were skipped for a
// non-finite loss or gradient; `last` names the last of them. The state is that of the last good step.
struct NonFiniteSteps {
  std::string last;
};

// Trains the batches of run.state.epoch from run.state.batch on, updating state (batch, loss sums,
// times). Returns false when a stop was requested after a batch (state then says where to go on).
bool train_epoch(FoldRun& run);

// Scores every triplet on the fold's validation images; std::nullopt when a stop was requested.
std::optional<TripletSearchResult> validate(FoldRun& run);

}  // namespace pleura
