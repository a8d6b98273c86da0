// Cross-validation folds: the solution's `fname,fold,exist_labels` files (fname = "<ImageId>.png",
// fold 0..K-1, exist_labels 0/1), read with strict checks, or made as a seeded stratified K-fold split
// (positives and negatives each dealt evenly over the folds). check_folds ties a split to its labels and
// image folder. Tests: tests/data/test_folds.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pleura::data {

class RleLabels;

struct FoldEntry {
  std::string image_id;  // fname without its extension
  std::string fname;     // as written in the file, e.g. "<ImageId>.png"
  int fold = 0;
  bool positive = false;  // exist_labels
  std::string where;      // "file:line" of a row read from a file; empty for a split made here
};

struct Folds {
  std::vector<FoldEntry> entries;  // file order
  int num_folds = 0;               // max fold + 1; every fold 0..num_folds-1 holds at least one image
};

// Reads a folds file; errors name file:line (bad header, field count, fold, exist_labels value,
// duplicate fname) or the fold that holds no image.
Folds read_folds(const std::string& path);

// A stratified split of (image_id, positive) pairs into `k` folds. Deterministic for a seed: the ids are
// sorted, positives and negatives shuffled separately (engine Rng), then dealt round-robin, negatives
// continuing where the positives stopped, so fold sizes differ by at most one and positive counts by at
// most one. fname = image_id + ".png". Entries come back sorted by image_id.
Folds make_stratified_folds(const std::vector<std::pair<std::string, bool>>& labels, int k, uint64_t seed);

// Writes `fname,fold,exist_labels` rows atomically.
void write_folds(const std::string& path, const Folds& folds);

// Checks a split against labels and, when image_dir is not empty, the folder of prepared images: every
// entry must have a label row, its exist_labels must agree with the labels, and image_dir/<fname> must
// exist. Throws an error naming the offending rows (fname as written and file:line; the first few and the
// count).
void check_folds(const Folds& folds, const RleLabels& labels, const std::string& image_dir);

}  // namespace pleura::data
