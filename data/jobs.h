// Running independent jobs on a few threads, the one helper for every tool's per-file or per-image loop
// (data/prepare.cpp, data/synthetic_dataset.cpp, infer/infer_run.cpp, eval/search.cpp,
// eval/submission.cpp, eval/scoring.cpp): dynamic scheduling (files take unequal time), and on the first
// failure no new job starts and that exception is rethrown once every thread has stopped. Results must not
// depend on the thread count: each job writes only its own outputs (its file, its slot of a vector). With
// more than one thread, a job's own parallel_for calls (its ops) run inline on its thread
// (engine/parallel.h, InlineParallelScope). Tests: tests/data/test_jobs.cpp.
#pragma once

#include <cstdint>
#include <functional>

namespace pleura::data {

// Calls job(i) for every i in [0, count) on min(threads, count) threads (the caller's among them).
void run_jobs(int64_t count, int threads, const std::function<void(int64_t)>& job);

// The default worker count: the hardware threads, at least 1.
int default_job_threads();

}  // namespace pleura::data
