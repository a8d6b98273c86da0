// The solution's epoch sampler ("sample rate"): every positive image once, plus int(n_pos*(1-r)/r)
// negatives drawn at random with replacement, shuffled together; r fixed or sliding linearly over a
// run. Deterministic from (seed, epoch). Test: tests/data/test_sampler.cpp.
#pragma once

#include <cstdint>
#include <vector>

namespace pleura {

// A seed for one random stream, derived from a run seed and two keys (e.g. epoch and position) by
// chained splitmix64 finalisers: distinct keys give unrelated streams, the same keys the same stream.
uint64_t derive_seed(uint64_t seed, uint64_t key1, uint64_t key2 = 0);

// The sample rate r (the share of positive images in an epoch) per epoch:
//   r(epoch) = start + (end - start) * epoch / (epochs - 1)   for epochs > 1 and 0 <= epoch < epochs,
//   r(epoch) = start                                          for epochs == 1,
//   r(epoch) = end                                            for epoch >= epochs (held after the run).
// epoch counts from 0. A fixed rate is start == end. The solution slid from 0.8 to 0.4 over a run and
// used fixed 0.8, 0.6, 0.4 and 0.5 in its stages.
struct SampleRateSchedule {
  double start = 0.8;
  double end = 0.8;
  int64_t epochs = 1;

  static SampleRateSchedule fixed(double r) { return {r, r, 1}; }
  static SampleRateSchedule sliding(double start, double end, int64_t epochs) { return {start, end, epochs}; }
  // Throws for epoch < 0; validates the schedule (rates in (0, 1], epochs >= 1).
  double at(int64_t epoch) const;
};

// int(n_positive * (1 - r) / r), evaluated in double left to right as the reference's Python does.
int64_t negatives_for_rate(int64_t n_positive, double r);

class EpochSampler {
 public:
  // labels[i] is true when dataset item i is positive (has pneumothorax). Needs at least one positive.
  EpochSampler(std::vector<bool> labels, SampleRateSchedule schedule, uint64_t seed);

  // The dataset indices of one epoch: every positive exactly once and negatives_for_rate(...)
  // negatives drawn uniformly with replacement, in a shuffled order. Pure function of (seed, epoch).
  // Throws when negatives are needed but the dataset has none.
  std::vector<int64_t> epoch_indices(int64_t epoch) const;

  int64_t num_positive() const { return static_cast<int64_t>(positives_.size()); }
  int64_t num_negative_available() const { return static_cast<int64_t>(negatives_.size()); }
  // Length of an epoch: num_positive() + negatives_for_rate(num_positive(), schedule.at(epoch)).
  int64_t epoch_size(int64_t epoch) const;
  const SampleRateSchedule& schedule() const { return schedule_; }

 private:
  std::vector<int64_t> positives_;
  std::vector<int64_t> negatives_;
  SampleRateSchedule schedule_;
  uint64_t seed_;
};

}  // namespace pleura
