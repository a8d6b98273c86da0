// Which weights infer_unet averages: an explicit list of files, or files chosen in a train_unet output
// folder (the reference's Inference.build_checkpoints_list): each fold's best, each fold's top-k epochs
// by the validation score of its summary.csv, or the epochs listed per fold (SELECTED_CHECKPOINTS). The
// layout, as train_unet writes it (train/trainer.h), per fold k under the pipeline folder:
//   <best_folder>/<name>_fold<k>.safetensors
//   <full_folder>/fold<k>/<name>_fold<k>_epoch<e>.safetensors
//   <full_folder>/fold<k>/summary.csv   (epoch, best_metric, one column per triplet)
// Tests: tests/infer/test_checkpoints.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pleura::infer {

enum class Selection {
  kBest,    // SUBMIT_BEST: <best_folder>/<name>_fold<k>.safetensors for each fold
  kTopK,    // the k epochs of each fold with the highest best_metric in summary.csv whose files exist
  kEpochs,  // SELECTED_CHECKPOINTS: the listed epochs of each listed fold
};

struct PipelineSelection {
  std::string path;                     // CHECKPOINTS.PIPELINE_PATH (train_unet's [run] output)
  std::string name;                     // CHECKPOINTS.PIPELINE_NAME
  std::string best_folder = "checkpoints";  // CHECKPOINTS.BEST_FOLDER, under path
  std::string full_folder = "checkpoints";  // CHECKPOINTS.FULL_FOLDER, under path
  Selection selection = Selection::kBest;
  std::vector<int64_t> folds;           // kBest and kTopK: USEFOLDS, in order
  int64_t top_k = 0;                    // kTopK
  std::vector<std::pair<int64_t, std::vector<int64_t>>> epochs;  // kEpochs: (fold, epochs), in order
};

std::string best_checkpoint_path(const PipelineSelection& p, int64_t fold);
std::string epoch_checkpoint_path(const PipelineSelection& p, int64_t fold, int64_t epoch);
std::string summary_path(const PipelineSelection& p, int64_t fold);

struct SummaryRow {
  int64_t epoch = 0;
  double best_metric = 0;
  int64_t line = 0;  // 1-based line in the file
};

// The rows of a summary.csv (header "epoch,best_metric,..."; further columns are not read). An epoch that
// appears more than once (the reference and train_unet append to one summary.csv across training stages,
// each stage counting epochs from 0 and overwriting that epoch's file) keeps its last row: the one
// whose checkpoint is on disk. Rows are returned in file order of those last rows. Errors name file:line.
std::vector<SummaryRow> read_summary(const std::string& path);

// The top `k` epochs of fold `fold`: the summary rows whose epoch checkpoint exists, by best_metric from
// high to low; equal scores keep the checkpoint whose file name sorts last, as train_unet's (and the
// reference's heapq) top-k does when it drops the lowest (score, path). Throws, naming the summary and
// the epochs found, when fewer than k such files exist.
std::vector<int64_t> top_k_epochs(const PipelineSelection& p, int64_t fold, int64_t k);

// The checkpoint files, in the order they are averaged: fold by fold (in the order given), and within a
// fold the epochs in the order given (kEpochs) or by falling score (kTopK). Every file must exist; a
// missing one is an error naming its path (and, for kBest / kEpochs, the fold and epoch).
std::vector<std::string> pipeline_checkpoints(const PipelineSelection& p);

// Throws naming the first path that is not a regular file.
void check_checkpoint_files(const std::vector<std::string>& paths);

}  // namespace pleura::infer
