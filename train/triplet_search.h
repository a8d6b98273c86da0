// Triplet threshold search: the score of every (top, min_area, bottom) triplet on a validation set and the
// best one. One pass over the pixels gathers per-image statistics (engine/ops/triplet_mask.h:
// threshold_statistics), after which a triplet costs O(images). The brute force (masks + metric) is kept
// as the reference it must equal. Tests in tests/train/test_triplet_search.cpp, timing in bench/bench_triplets.cpp.
#pragma once

#include <vector>

#include "engine/ops/triplet_mask.h"
#include "train/metric.h"

namespace pleura {

struct TripletSearchResult {
  std::vector<Triplet> triplets;
  std::vector<double> scores;  // one per triplet, in the triplets' order
  size_t best = 0;             // the first triplet with the highest score (the reference keeps the first)
  const Triplet& best_triplet() const { return triplets[best]; }
  double best_score() const { return scores[best]; }
};

// Every (top, area, bottom) with top outermost, then area, then bottom.
std::vector<Triplet> triplet_grid(const std::vector<double>& tops, const std::vector<int64_t>& areas,
                                  const std::vector<double>& bottoms);
// The validation grid of every config: (0.75,1000,0.3) (0.75,1000,0.4) (0.75,2000,0.3) (0.75,2000,0.4)
// (0.6,2000,0.3) (0.6,2000,0.4) (0.6,3000,0.3) (0.6,3000,0.4).
std::vector<Triplet> config_triplets();

// Accumulates statistics image by image (batches may come from anywhere: CPU or CUDA tensors, any sizes),
// so a validation set never has to be in memory at once. Memory: images x (2U + 1) int64, U = distinct
// thresholds of the triplets.
class TripletSearch {
 public:
  explicit TripletSearch(std::vector<Triplet> triplets, MetricOptions options = {});

  // scores: float32 [n, 1, H, W] (probabilities or logits, see kind); truth: uint8 or float32 of the same
  // shape and device, non-zero = pneumothorax. The images follow those added before (batch order matters
  // for ScoreAverage::kPerBatch only).
  void add(const Tensor& scores, const Tensor& truth, ScoreKind kind = ScoreKind::kProbability);

  int64_t images() const { return images_; }
  const std::vector<Triplet>& triplets() const { return triplets_; }
  const MetricOptions& options() const { return options_; }
  // Triplet k's (intersection, predicted, truth) counts of every image added so far.
  std::vector<DiceCounts> image_counts(size_t k) const;
  // Scores of every triplet and the best; throws when no image was added.
  TripletSearchResult result() const;
  // The per-image statistics gathered so far (images() rows), and the adding of rows another search
  // of the same triplets gathered (a data-parallel rank's share of the validation images): rows added in
  // image order give the result one search over every image gives, bit for bit.
  const std::vector<int64_t>& statistics() const { return stats_; }
  void add_statistics(const std::vector<int64_t>& rows);

 private:
  std::vector<Triplet> triplets_;
  MetricOptions options_;
  std::vector<float> thresholds_;  // distinct float32 thresholds, increasing
  std::vector<size_t> top_index_;  // per triplet, into thresholds_
  std::vector<size_t> bottom_index_;
  std::vector<int64_t> stats_;  // images_ rows of 2U + 1 (see threshold_statistics)
  int64_t images_ = 0;
};

// The search over one set of images in memory.
TripletSearchResult search_triplets(const Tensor& scores, const Tensor& truth, const std::vector<Triplet>& triplets,
                                    const MetricOptions& options = {}, ScoreKind kind = ScoreKind::kProbability);

// The brute force the search must equal: for each triplet, its masks (triplet_masks) scored by the metric.
TripletSearchResult search_triplets_brute_force(const Tensor& scores, const Tensor& truth,
                                                const std::vector<Triplet>& triplets, const MetricOptions& options = {},
                                                ScoreKind kind = ScoreKind::kProbability);

}  // namespace pleura
