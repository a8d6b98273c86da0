// The thread pool behind parallel_for (header engine/parallel.h, test tests/engine/test_parallel.cpp): chunk i always goes to thread i, and the first exception
// thrown by any chunk is rethrown to the caller. Between jobs a worker first polls for the next one for
// a short while (kSpin), then sleeps on a condition variable; the caller likewise polls for the end of a
// job before sleeping. A training step makes thousands of parallel_for calls, most within microseconds
// of the previous one: waking sleeping threads through the kernel cost about 45 us per call (bench:
// 20000 empty calls on 2 threads), the polling brings that down to under 1 us; the polling yields the
// core now and then (to loader threads, or when there are more threads than cores), and a worker that
// found no job during kSpin sleeps, so idle pools use no CPU.
#include "engine/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "engine/alloc_context.h"
#include "engine/error.h"

namespace pleura {
namespace {

thread_local bool t_inside_parallel = false;

constexpr std::chrono::microseconds kSpin{100};

void pause_briefly() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Polls `done()` for up to kSpin; true if it became true.
template <class Done>
bool spin_until(Done&& done) {
  const auto limit = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    pause_briefly();
    if ((i & 63) == 63) {
      if (std::chrono::steady_clock::now() > limit) return done();
      std::this_thread::yield();  // lets loader threads (or more threads than cores) run meanwhile
    }
  }
}

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
    }
    start_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs task(i) for i in [0, chunks), chunks <= threads(); chunk 0 on the caller.
  void run(int chunks, const std::function<void(int)>& task) {
    task_ = &task;
    error_ = nullptr;
    remaining_.store(chunks - 1, std::memory_order_relaxed);
    {
      // Published under the mutex, so that a worker about to sleep sees it or is woken.
      std::lock_guard<std::mutex> lock(mutex_);
      const uint64_t generation = (job_.load(std::memory_order_relaxed) >> 16) + 1;
      job_.store(generation << 16 | static_cast<uint64_t>(chunks), std::memory_order_release);
    }
    start_.notify_all();
    run_chunk(0);
    auto finished = [this] { return remaining_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(finished)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, finished);
    }
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_chunk(int i) {
    t_inside_parallel = true;
    try {
      (*task_)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    t_inside_parallel = false;
  }

  void work(int index) {
    uint64_t seen = 0;  // the job word last acted on
    for (;;) {
      auto ready = [&] { return stop_.load() || job_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(ready)) {
        std::unique_lock<std::mutex> lock(mutex_);
        start_.wait(lock, ready);
      }
      if (stop_.load()) return;
      // Generation and chunk count come in one word: a worker left out of a job (index >= its chunks)
      // may see the next job's word late, but never a mix of two jobs.
      seen = job_.load(std::memory_order_acquire);
      if (index >= static_cast<int>(seen & 0xFFFF)) continue;
      run_chunk(index);  // task_ stays valid: the job cannot end before this chunk does
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        { std::lock_guard<std::mutex> lock(mutex_); }  // the caller is polling, or waiting under the mutex
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  // Written by the caller before it publishes job_ (release), read by workers after they see the new
  // job (acquire). job_ = generation << 16 | number of chunks (threads are at most 1024).
  const std::function<void(int)>* task_ = nullptr;
  std::exception_ptr error_;
  std::atomic<int> remaining_{0};
  std::atomic<uint64_t> job_{0};
  std::atomic<bool> stop_{false};
};

int default_threads() {
  if (const char* env = std::getenv("PLEURA_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::mutex g_pool_mutex;  // serialises pool creation and parallel_for calls from different threads
std::unique_ptr<Pool> g_pool;
int g_threads = 0;

Pool& pool() {
  if (!g_pool) {
    if (g_threads == 0) g_threads = default_threads();
    g_pool = std::make_unique<Pool>(g_threads);
  }
  return *g_pool;
}

}  // namespace

void set_num_threads(int n) {
  PLEURA_CHECK(n >= 1 && n <= 1024, "[set_num_threads] got ", n, ", expected 1..1024");
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  g_pool.reset();
  g_threads = n;
  pool();
}

int num_threads() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  return pool().threads();
}

InlineParallelScope::InlineParallelScope() : previous_(t_inside_parallel) { t_inside_parallel = true; }
InlineParallelScope::~InlineParallelScope() { t_inside_parallel = previous_; }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (t_inside_parallel || n <= grain) {
    fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> lock(g_pool_mutex);
  Pool& p = pool();
  int64_t chunks = std::min<int64_t>(p.threads(), (n + grain - 1) / grain);
  if (chunks <= 1) {
    lock.unlock();  // fn may call parallel_for itself
    fn(0, n);
    return;
  }
  int64_t step = (n + chunks - 1) / chunks;
  // Out-of-memory messages from the workers name the caller's op and layer (engine/alloc_context.h).
  const char* op = current_op();
  const bool backward = current_op_is_backward();
  const LayerName layer = current_layer();
  p.run(static_cast<int>(chunks), [&](int i) {
    const OpScope op_scope(op, backward);
    const LayerScope layer_scope(layer);
    int64_t begin = i * step, end = std::min(n, begin + step);
    if (begin < end) fn(begin, end);
  });
}

}  // namespace pleura
