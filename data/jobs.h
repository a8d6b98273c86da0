// Running independent per-file jobs on a few threads, for the data tools: dynamic scheduling (files
// take unequal time), and on the first failure no new job starts and that exception is rethrown once
// every thread has stopped. Results must not depend on the thread count: each job writes only its own
// outputs. Used by prepare.cpp and synthetic_dataset.cpp.
#pragma once

#include <cstdint>
#include <functional>

namespace pleura::data {

void run_jobs(int64_t count, int threads, const std::function<void(int64_t)>& job);

// The default worker count: the hardware threads, at least 1.
int default_job_threads();

}  // namespace pleura::data
