// The CPU thread pool behind parallel_for: workers sleep on a condition variable between jobs, chunk i
// always goes to thread i, and the first exception thrown by any chunk is rethrown to the caller.
#include "cpu/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/error.h"

extern "C" void openblas_set_num_threads(int num_threads);

namespace pleura {
namespace {

thread_local bool t_inside_parallel = false;

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs task(i) for i in [0, chunks), chunks <= threads(); chunk 0 on the caller.
  void run(int chunks, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> lock(mutex_);
    task_ = &task;
    chunks_ = chunks;
    remaining_ = chunks - 1;
    error_ = nullptr;
    ++generation_;
    lock.unlock();
    start_.notify_all();
    run_chunk(0);
    lock.lock();
    done_.wait(lock, [this] { return remaining_ == 0; });
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
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= chunks_) continue;
      lock.unlock();
      run_chunk(index);
      lock.lock();
      if (--remaining_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* task_ = nullptr;
  int chunks_ = 0;
  int remaining_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
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
    // OpenBLAS stays single-threaded: cpu::gemm parallelises over tiles itself (see cpu/blas.cpp).
    openblas_set_num_threads(1);
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

namespace cpu {

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
  p.run(static_cast<int>(chunks), [&](int i) {
    int64_t begin = i * step, end = std::min(n, begin + step);
    if (begin < end) fn(begin, end);
  });
}

}  // namespace cpu
}  // namespace pleura
