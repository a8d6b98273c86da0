// The epoch sampler: counts per epoch for several rates, the sliding schedule, determinism from
// (seed, epoch), every positive exactly once, negatives drawn with replacement from the negatives only.
#include "data/sampler.h"

#include <algorithm>
#include <map>
#include <set>

#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
// The solution's stage-1 training set: 10,679 images, 2,379 positive; positives every 4th-ish item.
std::vector<bool> siim_like_labels() {
  std::vector<bool> labels(10679, false);
  for (int i = 0, placed = 0; placed < 2379; i += 4, ++placed) labels[static_cast<size_t>(i + (placed % 3))] = true;
  return labels;
}
}  // namespace

TEST_CASE("sampler: negatives per epoch are int(n_pos * (1 - r) / r)") {
  // Expected counts computed with Python: int(2379 * (1 - r) / r).
  CHECK(negatives_for_rate(2379, 0.8) == 594);
  CHECK(negatives_for_rate(2379, 0.6) == 1586);
  CHECK(negatives_for_rate(2379, 0.4) == 3568);
  CHECK(negatives_for_rate(2379, 0.5) == 2379);
  CHECK(negatives_for_rate(2379, 0.3) == 5551);
  CHECK(negatives_for_rate(2379, 1.0) == 0);
  const std::vector<bool> labels = siim_like_labels();
  for (auto [r, negatives] : {std::pair{0.8, 594}, {0.6, 1586}, {0.4, 3568}, {0.5, 2379}}) {
    const EpochSampler s(labels, SampleRateSchedule::fixed(r), 1);
    const std::vector<int64_t> epoch = s.epoch_indices(0);
    INFO("r = " << r);
    CHECK(static_cast<int64_t>(epoch.size()) == 2379 + negatives);
    CHECK(s.epoch_size(3) == 2379 + negatives);
    const auto n_neg = std::count_if(epoch.begin(), epoch.end(), [&](int64_t i) { return !labels[i]; });
    CHECK(n_neg == negatives);
  }
}

TEST_CASE("sampler: the sliding schedule is start + (end - start) * epoch / (epochs - 1)") {
  const SampleRateSchedule s = SampleRateSchedule::sliding(0.8, 0.4, 5);
  const double want[] = {0.8, 0.7, 0.6, 0.5, 0.4};
  for (int e = 0; e < 5; ++e) CHECK(s.at(e) == doctest::Approx(want[e]).epsilon(1e-15));
  CHECK(s.at(9) == 0.4);                                     // held at the end value after the run
  CHECK(SampleRateSchedule::sliding(0.8, 0.4, 1).at(0) == 0.8);  // one epoch: the start value
  CHECK(SampleRateSchedule::fixed(0.6).at(17) == 0.6);
  expect_error([&] { s.at(-1); }, {"[sampler]", "epoch -1"});
  expect_error([] { SampleRateSchedule::fixed(0.0).at(0); }, {"[sampler]", "(0, 1]"});
  expect_error([] { SampleRateSchedule::sliding(0.8, 0.4, 0).at(0); }, {"[sampler]", "epochs = 0"});
  // Epoch sizes follow the schedule.
  const EpochSampler sampler(siim_like_labels(), s, 3);
  CHECK(sampler.epoch_indices(0).size() == 2379 + 594);
  // r(2) = 0.8 + (0.4 - 0.8) * 2 / 4 = 0.6000000000000001 in double, so int(2379 * (1 - r) / r) = 1585,
  // one less than at a fixed 0.6 (Python gives the same).
  CHECK(sampler.epoch_indices(2).size() == 2379 + 1585);
  CHECK(sampler.epoch_indices(4).size() == 2379 + 3568);
}

TEST_CASE("sampler: every positive exactly once, negatives from the negatives, order shuffled") {
  const std::vector<bool> labels = siim_like_labels();
  const EpochSampler s(labels, SampleRateSchedule::fixed(0.4), 11);
  const std::vector<int64_t> epoch = s.epoch_indices(1);
  std::map<int64_t, int> seen;
  for (int64_t i : epoch) ++seen[i];
  int positives = 0, repeated_negatives = 0;
  for (auto [i, n] : seen) {
    if (labels[static_cast<size_t>(i)]) {
      CHECK(n == 1);
      ++positives;
    } else {
      repeated_negatives += n > 1;
    }
  }
  CHECK(positives == 2379);
  // 3568 draws with replacement from 8300 negatives: about 3568^2 / (2 * 8300) = 770 collisions.
  CHECK(repeated_negatives > 300);
  // Shuffled: positives are spread through the epoch, not grouped at one end.
  int64_t positives_in_first_half = 0;
  for (size_t k = 0; k < epoch.size() / 2; ++k) positives_in_first_half += labels[static_cast<size_t>(epoch[k])];
  CHECK(positives_in_first_half > 1000);
  CHECK(positives_in_first_half < 1380);
}

TEST_CASE("sampler: deterministic from (seed, epoch)") {
  const std::vector<bool> labels = siim_like_labels();
  const EpochSampler a(labels, SampleRateSchedule::fixed(0.6), 5), b(labels, SampleRateSchedule::fixed(0.6), 5);
  const EpochSampler c(labels, SampleRateSchedule::fixed(0.6), 6);
  CHECK(a.epoch_indices(2) == b.epoch_indices(2));
  CHECK(a.epoch_indices(2) == a.epoch_indices(2));
  CHECK(a.epoch_indices(2) != a.epoch_indices(3));
  CHECK(a.epoch_indices(2) != c.epoch_indices(2));
  CHECK(derive_seed(1, 2, 3) == derive_seed(1, 2, 3));
  CHECK(derive_seed(1, 2, 3) != derive_seed(1, 3, 2));
}

TEST_CASE("sampler: a dataset without positives, or without the negatives it needs, is refused") {
  expect_error([] { EpochSampler({false, false}, SampleRateSchedule::fixed(0.5), 0); }, {"[sampler]", "no positive"});
  const EpochSampler only_pos({true, true, true}, SampleRateSchedule::fixed(0.5), 0);
  expect_error([&] { only_pos.epoch_indices(0); }, {"[sampler]", "needs 3 negatives"});
  const EpochSampler all_pos({true, true, true}, SampleRateSchedule::fixed(1.0), 0);
  std::vector<int64_t> e = all_pos.epoch_indices(0);
  std::sort(e.begin(), e.end());
  CHECK(e == std::vector<int64_t>{0, 1, 2});
}
