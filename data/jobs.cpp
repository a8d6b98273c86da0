// Threaded per-file jobs (see jobs.h).
#include "data/jobs.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/parallel.h"

namespace pleura::data {

int default_job_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

void run_jobs(int64_t count, int threads, const std::function<void(int64_t)>& job) {
  if (count <= 0) return;
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  const int n = static_cast<int>(std::clamp<int64_t>(threads, 1, count));
  auto worker = [&] {
    std::optional<InlineParallelScope> inline_ops;
    if (n > 1) inline_ops.emplace();  // the jobs are the parallelism; alone, a job's ops use the pool
    while (!failed.load()) {
      const int64_t i = next.fetch_add(1);
      if (i >= count) return;
      try {
        job(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace pleura::data
