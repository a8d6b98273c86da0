// The epoch sampler (header sampler.h). Random numbers: one Rng per epoch, seeded with
// derive_seed(seed, epoch, kSamplerStream); draws: the negatives (Rng::below over the negative list),
// then a Fisher-Yates shuffle of [negatives..., positives...] from the last element down.
#include "data/sampler.h"

#include <utility>

#include "engine/error.h"
#include "engine/random.h"

namespace pleura {

namespace {
constexpr uint64_t kSamplerStream = 0x53414D504C455231ULL;  // "SAMPLER1": keeps this stream apart from others

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t derive_seed(uint64_t seed, uint64_t key1, uint64_t key2) {
  return splitmix64(splitmix64(splitmix64(seed) ^ key1) ^ key2);
}

double SampleRateSchedule::at(int64_t epoch) const {
  PLEURA_CHECK(epochs >= 1, "[sampler] schedule epochs = ", epochs, ": must be >= 1");
  PLEURA_CHECK(start > 0.0 && start <= 1.0 && end > 0.0 && end <= 1.0, "[sampler] sample rates start = ", start,
               ", end = ", end, ": each must be in (0, 1]");
  PLEURA_CHECK(epoch >= 0, "[sampler] epoch ", epoch, " is negative");
  if (epochs == 1) return start;
  if (epoch >= epochs - 1) return end;
  return start + (end - start) * static_cast<double>(epoch) / static_cast<double>(epochs - 1);
}

int64_t negatives_for_rate(int64_t n_positive, double r) {
  PLEURA_CHECK(r > 0.0 && r <= 1.0, "[sampler] sample rate ", r, " must be in (0, 1]");
  return static_cast<int64_t>(static_cast<double>(n_positive) * (1.0 - r) / r);
}

EpochSampler::EpochSampler(std::vector<bool> labels, SampleRateSchedule schedule, uint64_t seed)
    : schedule_(schedule), seed_(seed) {
  for (size_t i = 0; i < labels.size(); ++i) (labels[i] ? positives_ : negatives_).push_back(static_cast<int64_t>(i));
  PLEURA_CHECK(!positives_.empty(), "[sampler] no positive item among ", labels.size(),
               ": the sample rate needs at least one");
  schedule_.at(0);  // validates the schedule now rather than at the first epoch
}

int64_t EpochSampler::epoch_size(int64_t epoch) const {
  return num_positive() + negatives_for_rate(num_positive(), schedule_.at(epoch));
}

std::vector<int64_t> EpochSampler::epoch_indices(int64_t epoch) const {
  const double r = schedule_.at(epoch);
  const int64_t n_neg = negatives_for_rate(num_positive(), r);
  PLEURA_CHECK(n_neg == 0 || !negatives_.empty(), "[sampler] epoch ", epoch, " at sample rate ", r, " needs ", n_neg,
               " negatives but the dataset has none");
  Rng rng(derive_seed(seed_, static_cast<uint64_t>(epoch), kSamplerStream));
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(n_neg) + positives_.size());
  for (int64_t i = 0; i < n_neg; ++i) order.push_back(negatives_[rng.below(negatives_.size())]);
  order.insert(order.end(), positives_.begin(), positives_.end());
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

}  // namespace pleura
