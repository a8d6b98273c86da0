// Tests of data/jobs.h: every job once at any thread count, the first failure rethrown with no new job
// started after it, and a job's own parallel_for inline when several threads run the jobs (on the pool
// when one does).
#include <atomic>
#include <stdexcept>
#include <vector>

#include "engine/parallel.h"
#include "data/jobs.h"
#include "tests/testing.h"

using namespace pleura;

TEST_CASE("run_jobs: every job exactly once, whatever the thread count") {
  for (int threads : {1, 2, 7, 64}) {
    for (int64_t count : {0, 1, 5, 300}) {
      CAPTURE(threads);
      CAPTURE(count);
      std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
      data::run_jobs(count, threads, [&](int64_t i) { hits[static_cast<size_t>(i)].fetch_add(1); });
      int64_t once = 0;
      for (const std::atomic<int>& h : hits) once += h.load() == 1;
      CHECK(once == count);
    }
  }
  data::run_jobs(3, 0, [](int64_t) {});  // threads < 1 runs on the caller alone
  CHECK(data::default_job_threads() >= 1);
}

TEST_CASE("run_jobs: the first failure is rethrown and no job starts after it") {
  // One thread: jobs run in order, so job 4 throws and jobs 5.. never start.
  std::vector<int> ran;
  CHECK_THROWS_WITH_AS(data::run_jobs(10, 1,
                                      [&](int64_t i) {
                                        ran.push_back(static_cast<int>(i));
                                        if (i == 4) throw std::runtime_error("job 4 failed");
                                      }),
                       "job 4 failed", std::runtime_error);
  CHECK(ran == std::vector<int>{0, 1, 2, 3, 4});
  // Several threads: the error still reaches the caller, and far fewer than all jobs start.
  std::atomic<int> started{0};
  CHECK_THROWS_WITH_AS(data::run_jobs(100000, 4,
                                      [&](int64_t i) {
                                        ++started;
                                        if (i == 10) throw std::runtime_error("job 10 failed");
                                      }),
                       "job 10 failed", std::runtime_error);
  CHECK(started.load() < 100000);
}

TEST_CASE("run_jobs: with several threads a job's parallel_for runs inline; alone it uses the pool") {
  const int previous = num_threads();
  set_num_threads(3);
  auto chunks_per_job = [](int threads) {
    std::vector<int> chunks(4, 0);
    data::run_jobs(4, threads, [&](int64_t i) {
      std::atomic<int> c{0};
      parallel_for(9, 1, [&](int64_t, int64_t) { ++c; });
      chunks[static_cast<size_t>(i)] = c.load();
    });
    return chunks;
  };
  CHECK(chunks_per_job(2) == std::vector<int>{1, 1, 1, 1});
  CHECK(chunks_per_job(1) == std::vector<int>{3, 3, 3, 3});
  // The caller's own parallel_for is not left inline after the jobs.
  std::atomic<int> after{0};
  parallel_for(9, 1, [&](int64_t, int64_t) { ++after; });
  CHECK(after.load() == 3);
  set_num_threads(previous);
}
