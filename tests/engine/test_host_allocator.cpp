// Tests of engine/host_allocator.h: alignment, reuse of large blocks, small blocks untouched, the
// out-of-memory path (an injected failure).
#include "engine/host_allocator.h"

#include <cstring>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "engine/alloc_context.h"
#include "engine/tensor.h"
#include "tests/testing.h"

using namespace pleura;

TEST_CASE("host allocator: aligned blocks; large ones are reused after a free") {
  HostMemoryStats before = host_memory_stats();
  void* a = host_alloc(3 << 20);
  CHECK(reinterpret_cast<uintptr_t>(a) % kHostAlignment == 0);
  host_free(a, 3 << 20);
  void* b = host_alloc((3 << 20) - 100);  // same size class
  HostMemoryStats after = host_memory_stats();
  if (after.caching) {
    CHECK(b == a);
    // At least: threads that earlier test cases of the same process left (loaders, writers) may allocate too.
    CHECK(after.cache_hits >= before.cache_hits + 1);
  }
  host_free(b, (3 << 20) - 100);
  void* small = host_alloc(100);
  CHECK(reinterpret_cast<uintptr_t>(small) % kHostAlignment == 0);
  host_free(small, 100);
  host_empty_cache();
  CHECK(host_memory_stats().bytes_cached == 0);
}

TEST_CASE("host allocator: tensors of a repeated step come from the cache") {
  host_empty_cache();
  for (int step = 0; step < 3; ++step) {
    Tensor t = Tensor::empty({1 << 20});  // 4 MiB
    t.data<float>()[0] = 1.0f;
  }
  HostMemoryStats s = host_memory_stats();
  if (s.caching) CHECK(s.bytes_cached >= (size_t(4) << 20));
}

TEST_CASE("host allocator: out of memory gives the cache back, then names the request, op, layer and workload") {
  // Under both policies (an inference test earlier in this process may have left kWithinLivePeak set).
  for (const HostCachePolicy policy : {HostCachePolicy::kKeepAll, HostCachePolicy::kWithinLivePeak}) {
    const bool pooled = policy == HostCachePolicy::kWithinLivePeak;
    CAPTURE(pooled);
    set_host_cache_policy(policy);
    host_empty_cache();
    void* cached = host_alloc(size_t(3) << 20);
    host_free(cached, size_t(3) << 20);
    const bool caching = host_memory_stats().caching;
    // The pool's segments are whole multiples of 2 MiB.
    if (caching) CHECK(host_memory_stats().bytes_cached == (size_t(pooled ? 4 : 3) << 20));
    set_workload("training albunet at 1024x1024, batch 16");
    {
      const testing::HostAllocFailure failure(size_t(2) << 20);
      const OpScope op("conv2d");
      const LayerScope layer(std::make_shared<const std::string>("decoder.center.0"));
      // The free lists' message, or the pool's (engine/block_pool.h).
      const bool pool_message = pooled && caching;
      testing::expect_error([] { host_alloc(size_t(5) << 20); },
                            {"[cpu alloc] out of memory: asked for 5242880 bytes (5.0 MiB)",
                             "during conv2d in layer decoder.center.0", "(training albunet at 1024x1024, batch 16)",
                             pool_message ? "cpu has " : "the machine has ",
                             pool_message ? " free of " : " available of ",
                             "Lower the batch size"});
      CHECK(host_memory_stats().bytes_cached == 0);  // given back before the second try
      bool typed = false;
      try {
        Tensor::empty({1 << 20});  // 4 MiB through the tensor path
      } catch (const OutOfMemoryError&) {
        typed = true;
      }
      CHECK(typed);
      void* small = host_alloc(1000);  // under the threshold: served
      host_free(small, 1000);
    }
    set_workload("");
    CHECK(current_op() == nullptr);
    CHECK(current_layer() == nullptr);
    void* ok = host_alloc(size_t(5) << 20);  // the failure is over
    host_free(ok, size_t(5) << 20);
    host_empty_cache();
  }
  set_host_cache_policy(HostCachePolicy::kKeepAll);
}

namespace {
constexpr size_t mib = size_t(1) << 20;

// An empty cache under kWithinLivePeak for the enclosing scope, kKeepAll again after it.
struct WithinLivePeak {
  WithinLivePeak() {
    host_empty_cache();
    set_host_cache_policy(HostCachePolicy::kWithinLivePeak);
  }
  ~WithinLivePeak() { set_host_cache_policy(HostCachePolicy::kKeepAll); }
};
}  // namespace

TEST_CASE("host allocator: within the live peak, a freed block is split and merged again for other sizes") {
  if (!host_memory_stats().caching) return;  // PLEURA_CPU_NO_CACHE: nothing is cached
  const WithinLivePeak policy;
  void* whole = host_alloc(8 * mib);
  std::memset(whole, 0x11, 8 * mib);
  host_free(whole, 8 * mib);
  const HostMemoryStats before = host_memory_stats();
  CHECK(before.bytes_cached == 8 * mib);
  // 3 and 5 MiB: two pieces of the free 8 MiB block, no new memory.
  void* three = host_alloc(3 * mib);
  void* five = host_alloc(5 * mib);
  CHECK(three == whole);
  CHECK(five == static_cast<char*>(whole) + 3 * mib);
  std::memset(three, 0x22, 3 * mib);  // the memory is the caller's
  std::memset(five, 0x33, 5 * mib);
  HostMemoryStats s = host_memory_stats();
  CHECK(s.cache_misses == before.cache_misses);
  CHECK(s.cache_hits == before.cache_hits + 2);
  CHECK(s.bytes_cached == 0);
  // Freed, the pieces merge: 8 MiB again finds the whole block.
  host_free(three, 3 * mib);
  host_free(five, 5 * mib);
  void* again = host_alloc(8 * mib);
  CHECK(again == whole);
  CHECK(host_memory_stats().cache_misses == before.cache_misses);
  host_free(again, 8 * mib);
  host_empty_cache();
  CHECK(host_memory_stats().bytes_cached == 0);
}

TEST_CASE("host allocator: within the live peak, free memory goes back before the pool would outgrow the peak") {
  if (!host_memory_stats().caching) return;  // PLEURA_CPU_NO_CACHE: nothing is cached
  // A block from before the switch goes back to the C library when freed, not to a free list.
  host_empty_cache();
  void* before_switch = host_alloc(3 * mib);
  const WithinLivePeak policy;
  host_free(before_switch, 3 * mib);
  CHECK(host_memory_stats().bytes_cached == 0);
  // Live peak 4 + 6 = 10 MiB; the 4 MiB block freed, 8 MiB fits no free block: the new segment would make the
  // pool 18 MiB, over the new peak of 14, so the free 4 MiB segment goes back first.
  void* a = host_alloc(4 * mib);
  void* b = host_alloc(6 * mib);
  host_free(a, 4 * mib);
  const HostMemoryStats before = host_memory_stats();
  CHECK(before.bytes_cached == 4 * mib);
  void* c = host_alloc(8 * mib);
  HostMemoryStats s = host_memory_stats();
  CHECK(s.cache_misses == before.cache_misses + 1);
  CHECK(s.bytes_released - before.bytes_released == 4 * mib);
  CHECK(s.bytes_cached == 0);
  // With 6 + 8 = 14 MiB in use and nothing free, 2 MiB more is a new peak: nothing to give back.
  void* d = host_alloc(2 * mib);
  CHECK(host_memory_stats().bytes_released == s.bytes_released);
  host_free(b, 6 * mib);
  host_free(c, 8 * mib);
  host_free(d, 2 * mib);
  CHECK(host_memory_stats().bytes_cached == 16 * mib);
  // Back under kKeepAll, the pool's free segments go back, and a freed block goes to its free list again.
  set_host_cache_policy(HostCachePolicy::kKeepAll);
  CHECK(host_memory_stats().bytes_cached == 0);
  void* keep_all = host_alloc(5 * mib);
  host_free(keep_all, 5 * mib);
  CHECK(host_memory_stats().bytes_cached == 5 * mib);
  host_empty_cache();
}

TEST_CASE("host allocator: planned passes, recorded once, then replayed in one arena of the peak") {
  if (!host_memory_stats().caching) return;  // PLEURA_CPU_NO_CACHE: nothing is cached
  const WithinLivePeak policy;
  // a 4 MiB, b 6, a freed, c 8, b freed, c freed: lifetimes a [0,2), b [1,4), c [3,5); the plan puts c at 0,
  // b at 8 MiB and a (live with b only) at 0: an arena of 14 MiB, the peak.
  struct Places {
    char *a, *b, *c;
  };
  auto pass = [](size_t first_size) {
    const HostPlannedPass scope;
    Places p{};
    p.a = static_cast<char*>(host_alloc(first_size));
    p.b = static_cast<char*>(host_alloc(6 * mib));
    std::memset(p.a, 0x11, first_size);
    std::memset(p.b, 0x22, 6 * mib);
    host_free(p.a, first_size);
    p.c = static_cast<char*>(host_alloc(8 * mib));
    std::memset(p.c, 0x33, 8 * mib);
    CHECK(p.b[6 * mib - 1] == 0x22);  // c's writes stay out of b
    host_free(p.b, 6 * mib);
    host_free(p.c, 8 * mib);
    return p;
  };
  const HostMemoryStats before = host_memory_stats();
  pass(4 * mib);  // the record: blocks mapped one by one
  CHECK(host_memory_stats().planned_hits == before.planned_hits);
  CHECK(host_memory_stats().cache_misses == before.cache_misses + 3);
  const Places first = pass(4 * mib);
  CHECK(host_memory_stats().planned_hits == before.planned_hits + 3);
  CHECK(first.c == first.a);
  CHECK(first.b == first.a + 8 * mib);
  const Places second = pass(4 * mib);
  CHECK(second.a == first.a);
  CHECK(host_memory_stats().planned_hits == before.planned_hits + 6);
  // A pass that strays (5 MiB first) takes its blocks from the pool, the rest of it too.
  const Places strayed = pass(5 * mib);
  CHECK(host_memory_stats().planned_hits == before.planned_hits + 6);
  CHECK((strayed.b < first.a || strayed.b >= first.a + 14 * mib));
  pass(4 * mib);  // and the next one follows the plan again
  CHECK(host_memory_stats().planned_hits == before.planned_hits + 9);
  host_empty_cache();
}

TEST_CASE("host allocator: a planned pass left by an exception records nothing") {
  if (!host_memory_stats().caching) return;  // PLEURA_CPU_NO_CACHE: nothing is cached
  const WithinLivePeak policy;
  try {
    const HostPlannedPass scope;
    void* a = host_alloc(4 * mib);
    host_free(a, 4 * mib);
    throw std::runtime_error("mid-pass");
  } catch (const std::runtime_error&) {
  }
  const HostMemoryStats before = host_memory_stats();
  for (int i = 0; i < 2; ++i) {  // the first records (a miss), the second replays (a planned hit)
    const HostPlannedPass scope;
    void* b = host_alloc(6 * mib);
    host_free(b, 6 * mib);
  }
  const HostMemoryStats s = host_memory_stats();
  CHECK(s.cache_misses == before.cache_misses + 1);
  CHECK(s.planned_hits == before.planned_hits + 1);
  host_empty_cache();
}

TEST_CASE("host allocator: another thread's requests during a planned pass are neither recorded nor planned") {
  if (!host_memory_stats().caching) return;  // PLEURA_CPU_NO_CACHE: nothing is cached
  const WithinLivePeak policy;
  auto other_thread_block = [] {
    void* p = nullptr;
    std::thread([&p] { p = host_alloc(6 * mib); }).join();
    return p;
  };
  void* recorded_loader = nullptr;
  {
    const HostPlannedPass scope;  // the record: the pass's 6 MiB block only
    recorded_loader = other_thread_block();
    void* own = host_alloc(6 * mib);
    host_free(own, 6 * mib);
  }
  const HostMemoryStats before = host_memory_stats();
  void* planned_place = nullptr;
  {
    const HostPlannedPass scope;  // a replay without the other thread: the pass's block at its place
    planned_place = host_alloc(6 * mib);
    host_free(planned_place, 6 * mib);
  }
  CHECK(host_memory_stats().planned_hits == before.planned_hits + 1);
  void* replayed_loader = nullptr;
  {
    const HostPlannedPass scope;
    replayed_loader = other_thread_block();  // first in the pass, yet it does not take the planned place
    void* own = host_alloc(6 * mib);
    CHECK(own == planned_place);
    CHECK(replayed_loader != planned_place);
    host_free(own, 6 * mib);
  }
  CHECK(host_memory_stats().planned_hits == before.planned_hits + 2);
  host_free(recorded_loader, 6 * mib);
  host_free(replayed_loader, 6 * mib);
  host_empty_cache();
}
