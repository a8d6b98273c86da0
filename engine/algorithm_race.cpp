// The bookkeeping of a race between candidate algorithms (engine/algorithm_race.h); the runs and their
// timing are the caller's (cuda/conv2d_cudnn.cu). Tests: tests/engine/test_algorithm_race.cpp.
#include "engine/algorithm_race.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace pleura {

AlgorithmRace::AlgorithmRace(size_t candidates, int timed_runs, double give_up_ratio)
    : entries_(candidates), timed_runs_(timed_runs), give_up_ratio_(give_up_ratio) {
  PLEURA_CHECK(timed_runs >= 1, "[algorithm race] timed_runs = ", timed_runs, ": expected at least 1");
  PLEURA_CHECK(give_up_ratio >= 1.0, "[algorithm race] give_up_ratio = ", give_up_ratio, ": expected >= 1");
}

void AlgorithmRace::failed(size_t candidate) {
  PLEURA_CHECK(candidate < entries_.size(), "[algorithm race] candidate ", candidate, " of ", entries_.size());
  entries_[candidate].failed = true;
  entries_[candidate].ms.clear();
}

void AlgorithmRace::record(size_t candidate, double ms) {
  PLEURA_CHECK(candidate < entries_.size(), "[algorithm race] candidate ", candidate, " of ", entries_.size());
  PLEURA_CHECK(std::isfinite(ms) && ms >= 0.0, "[algorithm race] candidate ", candidate, " timed at ", ms,
               " ms: expected a finite time >= 0");
  PLEURA_CHECK(!entries_[candidate].failed, "[algorithm race] candidate ", candidate, " failed; it has no times");
  entries_[candidate].ms.push_back(ms);
}

bool AlgorithmRace::wants_another_run(size_t candidate) const {
  PLEURA_CHECK(candidate < entries_.size(), "[algorithm race] candidate ", candidate, " of ", entries_.size());
  const Entry& e = entries_[candidate];
  if (e.failed || e.ms.size() >= static_cast<size_t>(timed_runs_)) return false;
  if (e.ms.size() != 1) return true;
  // After its first timed run: hopelessly slower than the best so far (another candidate's) is enough.
  std::optional<double> best;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (i == candidate) continue;
    const std::optional<double> m = median_ms(i);
    if (m && (!best || *m < *best)) best = m;
  }
  return !best || e.ms[0] <= give_up_ratio_ * *best;
}

std::optional<double> AlgorithmRace::median_ms(size_t candidate) const {
  PLEURA_CHECK(candidate < entries_.size(), "[algorithm race] candidate ", candidate, " of ", entries_.size());
  std::vector<double> ms = entries_[candidate].ms;
  if (entries_[candidate].failed || ms.empty()) return std::nullopt;
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  return n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

std::optional<size_t> AlgorithmRace::winner() const {
  std::optional<size_t> best;
  std::optional<double> best_ms;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const std::optional<double> m = median_ms(i);
    if (m && (!best_ms || *m < *best_ms)) {
      best = i;
      best_ms = m;
    }
  }
  return best;
}

}  // namespace pleura
