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

template <class T>
double sum_of(const T* x, int64_t n) {
  return sum_over(n, [x](int64_t i) { return x[i]; });
}

}  // namespace pleura::cpu
