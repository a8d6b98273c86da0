// Checkpoints of a training run. Weights are safetensors files with PyTorch's state_dict names
// (layers/state_dict.h), loadable by infer_unet and by PyTorch after conversion. The training state that
// --resume needs is one self-contained safetensors file: the weights again ("model.<name>"), Adam's
// moments ("adam.exp_avg.<name>", "adam.exp_avg_sq.<name>") and step counts ("adam.step", int64, one per
// parameter in named_parameters() order, -1 where Adam has no state), gradients accumulated but not yet
// applied ("grad.<name>", with gradient accumulation), and in its __metadata__ the loop's position,
// best scores, top-k list, scheduler state and the configuration's hash (TrainingState below). Every file
// is written to a temporary name, flushed and renamed, so a crash leaves the previous file intact.
// Implementation in train/checkpoint.cpp; tests in tests/train/test_checkpoint.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "layers/module.h"
#include "layers/state_dict.h"
#include "train/optimizer.h"

namespace pleura {

// One checkpoint kept by validation score (the reference's score heap).
struct TopkEntry {
  double score = 0.0;
  int64_t epoch = 0;
  std::string path;  // the file's name, in the fold's history folder
};

struct TrainingState {
  std::string config_hash;
  std::string pipeline;
  int fold = 0;
  int64_t epoch = 0;        // the epoch in progress (or the next to begin when batch == 0)
  int64_t batch = 0;        // batches of `epoch` already trained
  bool training_done = false;  // `epoch`'s batches are all trained; its validation is pending
  bool finished = false;    // the fold's run has ended (last epoch, or early stopping)
  // The partial epoch: running loss and times, so that its metrics row comes out whole.
  double loss_sum = 0.0;
  int64_t loss_count = 0;
  double epoch_seconds = 0.0, wait_seconds = 0.0;
  double best_score = 0.0;  // the reference starts at 0 (or at the best of an existing summary.csv)
  int64_t best_epoch = -1;
  std::vector<TopkEntry> topk;
  double lr = 0.0;                           // the learning rate of `epoch`
  std::map<std::string, double> scheduler;   // Scheduler::state()
  int64_t summary_rows = 0, metrics_rows = 0;  // data rows of summary.csv / metrics.csv at this point
  // Optimizer steps skipped for a non-finite loss or gradient: how many in a row up to now, and in all.
  int64_t nonfinite_in_a_row = 0, nonfinite_total = 0;
  // The number of data-parallel ranks that made the state (1: one process); their accumulated gradients
  // ("grad.<name>") are already summed over the ranks.
  int world_size = 1;
};

// Plain weights: every state_dict slot, with metadata (format "pt" plus the given entries).
void save_weights(const std::string& path, Module& model, const std::map<std::string, std::string>& metadata);
// Strict load (every slot, no extra key; the aliases and optional keys of `rules`, a model's from the
// registry, models/registry.h); returns the report line.
std::string load_weights(const std::string& path, Module& model, const StateDictRules& rules = {});

// Writes the resumable state of `model` and `adam` (whose params must be model.parameters()).
void save_training_state(const std::string& path, const TrainingState& state, Module& model, Adam& adam);
// Reads a state file written by save_training_state into `model` and `adam` (tensors go to the model's
// device). Throws naming the file when it is not such a file or does not fit the model.
TrainingState load_training_state(const std::string& path, Module& model, Adam& adam);
// The metadata alone (cheap: no tensor is copied into a model).
TrainingState peek_training_state(const std::string& path);

}  // namespace pleura
