// Deterministic sums for the CPU backend: fixed blocks, summed in parallel, then combined in order,
// so the result never depends on the thread count. Accumulates in double (float32 inputs too).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/parallel.h"

namespace pleura::cpu {

constexpr int64_t kReduceBlock = 4096;

// Sum over i in [0, n) of term(i).
template <class Term>
double sum_over(int64_t n, const Term& term) {
  int64_t blocks = (n + kReduceBlock - 1) / kReduceBlock;
  std::vector<double> partial(static_cast<size_t>(blocks), 0.0);
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      int64_t end = (b + 1) * kReduceBlock < n ? (b + 1) * kReduceBlock : n;
      double s = 0.0;
      for (int64_t i = b * kReduceBlock; i < end; ++i) s += static_cast<double>(term(i));
      partial[static_cast<size_t>(b)] = s;
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

// A double sum in kSumLanes partials: element i of each run of add() goes to lane i % kSumLanes, and total()
// adds the lanes in order. kSumLanes independent chains of additions where one serial chain is latency-bound
// (one add per ~4 cycles: a plane's sum cost more than the pass that made the plane); the order depends on the
// run lengths alone, never on the thread count. Used where each thread sums its own planes or channels.
constexpr int kSumLanes = 8;
struct LaneSum {
  double lane[kSumLanes] = {};
  // Adds term(0) ... term(n - 1), starting again at lane 0.
  template <class Term>
  void add(int64_t n, const Term& term) {
    int64_t i = 0;
    for (; i + kSumLanes <= n; i += kSumLanes)
      for (int j = 0; j < kSumLanes; ++j) lane[j] += static_cast<double>(term(i + j));
    for (int j = 0; i < n; ++i, ++j) lane[j] += static_cast<double>(term(i));
  }
  double total() const {
    double s = 0.0;
    for (double v : lane) s += v;
    return s;
  }
};

// Sum over i in [0, n) of term(i) as one LaneSum run.
template <class Term>
double lane_sum(int64_t n, const Term& term) {
  LaneSum s;
  s.add(n, term);
  return s.total();
}

template <class T>
double sum_of(const T* x, int64_t n) {
  return sum_over(n, [x](int64_t i) { return x[i]; });
}

}  // namespace pleura::cpu
