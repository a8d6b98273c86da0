// Tests of the pinned buffer pool (engine/pinned_pool.h) on a fake backend (host memory, fences the test
// passes by hand): reuse by size, no reuse before a buffer's fence has passed, release of idle buffers,
// buffers outliving their pool, threads. The CUDA backend is exercised by the loader's gpu case
// (tests/data/test_loader.cpp).
#include "engine/pinned_pool.h"

#include <cstdlib>
#include <set>
#include <thread>
#include <vector>

#include "tests/testing.h"

using namespace pleura;

namespace {

// Host memory standing in for pinned memory; fences pass when the test says so.
struct FakeDevice {
  std::set<void*> live;
  std::set<uint64_t> passed;
  int64_t frees = 0;
  std::mutex mutex;

  PinnedBackend backend() {
    return {[this](size_t bytes) {
              std::lock_guard<std::mutex> lock(mutex);
              void* p = std::malloc(bytes);
              live.insert(p);
              return p;
            },
            [this](void* p) {
              std::lock_guard<std::mutex> lock(mutex);
              REQUIRE(live.erase(p) == 1);  // never freed twice, never a foreign pointer
              std::free(p);
              ++frees;
            },
            [this](uint64_t fence) {
              std::lock_guard<std::mutex> lock(mutex);
              return passed.count(fence) > 0;
            }};
  }
  ~FakeDevice() {
    for (void* p : live) std::free(p);
  }
};

}  // namespace

TEST_CASE("pinned pool: a buffer given back is lent again for the same size, not for another") {
  FakeDevice d;
  PinnedPool pool(d.backend());
  void* first = nullptr;
  {
    auto a = pool.acquire(4096);
    first = a->data();
    CHECK(a->bytes() == 4096);
    static_cast<float*>(a->data())[1023] = 1.5f;  // the memory is usable, all of it
  }
  CHECK(pool.stats().idle == 1);
  auto other_size = pool.acquire(100);
  CHECK(other_size->data() != first);
  auto same = pool.acquire(4096);
  CHECK(same->data() == first);
  const PinnedPoolStats s = pool.stats();
  CHECK(s.allocations == 2);
  CHECK(s.reuses == 1);
  CHECK(s.lent == 2);
  CHECK(s.idle == 0);
  CHECK(pool.acquire(0)->bytes() == 1);  // a zero-size request gets one byte
}

TEST_CASE("pinned pool: a buffer is not lent again before its fence has passed") {
  FakeDevice d;
  PinnedPool pool(d.backend());
  void* fenced = nullptr;
  {
    auto a = pool.acquire(64);
    fenced = a->data();
    a->set_fence(7);  // a copy from it was queued
  }
  auto b = pool.acquire(64);
  CHECK(b->data() != fenced);  // fence 7 has not passed: a new buffer
  d.passed.insert(7);
  auto c = pool.acquire(64);
  CHECK(c->data() == fenced);
  CHECK(c->fence() == 0);  // a fresh loan carries no fence
  pool.release_idle();     // nothing idle
  CHECK(d.frees == 0);
}

TEST_CASE("pinned pool: release_idle frees what has passed; the pool's end frees the idle ones") {
  FakeDevice d;
  std::shared_ptr<PinnedBuffer> outlives;
  {
    PinnedPool pool(d.backend());
    {
      auto a = pool.acquire(10), b = pool.acquire(10);
      b->set_fence(3);
    }
    pool.release_idle();  // a is freed; b waits for fence 3
    CHECK(d.frees == 1);
    CHECK(pool.stats().idle == 1);
    d.passed.insert(3);
    pool.release_idle();
    CHECK(d.frees == 2);
    CHECK(pool.stats().idle_bytes == 0);
    pool.acquire(30).reset();  // idle when the pool ends
    outlives = pool.acquire(20);
  }
  CHECK(d.frees == 3);
  CHECK(d.live.size() == 1);
  outlives.reset();  // comes back after its pool: freed then
  CHECK(d.frees == 4);
  CHECK(d.live.empty());
}

TEST_CASE("pinned pool: threads lending and giving back share the buffers safely") {
  FakeDevice d;
  PinnedPool pool(d.backend());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 300; ++i) {
        auto b = pool.acquire((i + t) % 2 ? 64 : 128);
        static_cast<unsigned char*>(b->data())[0] = static_cast<unsigned char>(i);
      }
    });
  for (std::thread& t : threads) t.join();
  const PinnedPoolStats s = pool.stats();
  CHECK(s.lent == 0);
  CHECK(s.allocations <= 8);  // at most one buffer per thread lent at a time, of each size
  CHECK(s.allocations + s.reuses == 1200);
  CHECK(s.idle == s.allocations);
}
