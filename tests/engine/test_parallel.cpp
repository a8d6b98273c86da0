// parallel_for and its pool (engine/parallel.cpp): every index exactly once in at most
// min(threads, ceil(n / grain)) chunks, over many back-to-back calls with changing chunk counts (jobs a
// worker is left out of, then joins), at more threads than cores;
// nested calls run inline, and so do calls under an InlineParallelScope; the first exception of a chunk
// reaches the caller and the pool keeps working.
#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/parallel.h"
#include "tests/testing.h"

using namespace pleura;

namespace {

struct ThreadScope {
  int previous = num_threads();
  explicit ThreadScope(int n) { set_num_threads(n); }
  ~ThreadScope() { set_num_threads(previous); }
};

}  // namespace

TEST_CASE("parallel_for: every index once, in chunks, over many calls with changing chunk counts") {
  for (int threads : {2, 3, 7}) {
    CAPTURE(threads);
    ThreadScope scope(threads);
    std::vector<std::atomic<int>> hits(64);
    bool ok = true;
    for (int call = 0; call < 20000 && ok; ++call) {
      // n = 1..64 with grain 1..8: 1 to `threads` chunks, changing from call to call.
      const int64_t n = 1 + (call * 7919) % 64, grain = 1 + call % 8;
      for (int64_t i = 0; i < n; ++i) hits[static_cast<size_t>(i)].store(0);
      std::atomic<int> chunks{0};
      std::atomic<int64_t> first_size{0};
      parallel_for(n, grain, [&](int64_t begin, int64_t end) {
        ++chunks;
        if (begin == 0) first_size = end;
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ok = ok && hits[static_cast<size_t>(i)].load() == 1;
      const int64_t max_chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
      ok = ok && chunks.load() <= max_chunks && first_size.load() * max_chunks >= n;
      if (!ok) {
        CAPTURE(call);
        CAPTURE(n);
        CAPTURE(grain);
        FAIL("an index was missed or visited twice, or too many chunks");
      }
    }
    CHECK(ok);
  }
}

TEST_CASE("parallel_for: nested calls run inline; a chunk's exception reaches the caller, the pool goes on") {
  ThreadScope scope(3);
  std::atomic<int64_t> total{0};
  parallel_for(6, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i) parallel_for(10, 1, [&](int64_t c0, int64_t c1) { total += c1 - c0; });
  });
  CHECK(total.load() == 60);
  for (int round = 0; round < 50; ++round) {
    CHECK_THROWS_WITH_AS(parallel_for(9, 1,
                                      [&](int64_t b, int64_t) {
                                        if (b >= 3) throw std::runtime_error("chunk failed");
                                      }),
                         "chunk failed", std::runtime_error);
  }
  std::atomic<int64_t> after{0};
  parallel_for(1000, 1, [&](int64_t b, int64_t e) { after += e - b; });
  CHECK(after.load() == 1000);
}

TEST_CASE("parallel_for: under an InlineParallelScope a call is one chunk on the calling thread, until the scope ends") {
  ThreadScope scope(3);
  auto chunks_of = [](int64_t n) {
    std::atomic<int> chunks{0}, elsewhere{0};
    const std::thread::id caller = std::this_thread::get_id();
    parallel_for(n, 1, [&](int64_t, int64_t) {
      ++chunks;
      if (std::this_thread::get_id() != caller) ++elsewhere;
    });
    return std::pair<int, int>(chunks.load(), elsewhere.load());
  };
  CHECK(chunks_of(9).first == 3);
  {
    InlineParallelScope inline_ops;
    CHECK(chunks_of(9) == std::pair<int, int>(1, 0));
    {
      InlineParallelScope nested;  // scopes nest; the inner one's end keeps the outer one in force
    }
    CHECK(chunks_of(9) == std::pair<int, int>(1, 0));
  }
  CHECK(chunks_of(9).first == 3);
  // On another thread the scope of this one has no effect.
  InlineParallelScope inline_here;
  int chunks_there = 0;
  std::thread([&] { chunks_there = chunks_of(9).first; }).join();
  CHECK(chunks_there == 3);
}
