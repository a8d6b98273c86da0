// Host threading for every stage: a small pool with static partitioning (engine/parallel.cpp, test
// tests/engine/test_parallel.cpp). Work is split into contiguous chunks whose results never depend on
// which thread ran them, so outputs are bit-identical for any thread count (reductions combine
// fixed-size blocks in a fixed order; see cpu/reduce.h). The CPU backend's kernels and the host-side
// work above the engine (metric, submission, triplet search) share this one pool.
#pragma once

#include <cstdint>
#include <functional>

namespace pleura {

// Threads of the pool. Default: PLEURA_NUM_THREADS if set, else the number of hardware threads.
void set_num_threads(int n);
int num_threads();

// Calls fn(begin, end) over contiguous chunks covering [0, n), in parallel: at most one chunk per thread
// and at most ceil(n / grain) chunks, of equal size but for a shorter last one (so n <= grain runs on the
// calling thread). Nested calls run inline on the calling thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// A grain for parallel_for over items of `elements_per_item` elements each: enough items per chunk for
// at least ~16k elements, so that small loops are not cut into chunks smaller than the cost of a hand-off.
inline int64_t grain_for_elements(int64_t elements_per_item) {
  return elements_per_item >= 16384 ? 1 : 16384 / (elements_per_item < 1 ? 1 : elements_per_item);
}

// While one is alive, parallel_for calls made on its thread run inline, as nested calls do: for threads
// that are themselves one of several parallel jobs (data::run_jobs), so that each job's ops run on its
// own thread instead of queueing for the shared pool one job at a time. Results do not change (they
// never depend on the thread count).
class InlineParallelScope {
 public:
  InlineParallelScope();
  ~InlineParallelScope();
  InlineParallelScope(const InlineParallelScope&) = delete;
  InlineParallelScope& operator=(const InlineParallelScope&) = delete;

 private:
  bool previous_;
};

}  // namespace pleura
