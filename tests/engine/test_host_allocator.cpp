// Tests of engine/host_allocator.h: alignment, reuse of large blocks, small blocks untouched, the
// out-of-memory path (an injected failure).
#include "engine/host_allocator.h"

#include <cstring>

#include <cstdint>
#include <memory>
#include <string>

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
  host_empty_cache();
  void* cached = host_alloc(size_t(3) << 20);
  host_free(cached, size_t(3) << 20);
  const bool caching = host_memory_stats().caching;
  if (caching) CHECK(host_memory_stats().bytes_cached == (size_t(3) << 20));
  set_workload("training albunet at 1024x1024, batch 16");
  {
    const testing::HostAllocFailure failure(size_t(2) << 20);
    const OpScope op("conv2d");
    const LayerScope layer(std::make_shared<const std::string>("decoder.center.0"));
    testing::expect_error([] { host_alloc(size_t(5) << 20); },
                          {"[cpu alloc] out of memory: asked for 5242880 bytes (5.0 MiB)",
                           "during conv2d in layer decoder.center.0", "(training albunet at 1024x1024, batch 16)",
                           "the machine has ", " available of ", "Lower the batch size"});
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

TEST_CASE("host allocator: within the live peak, a miss gives back cached blocks worth what it asks") {
  if (!host_memory_stats().caching) return;  // PLEURA_CPU_NO_CACHE: nothing is cached
  const WithinLivePeak policy;
  // Live peak 2 + 3 + 4 = 9 MiB; all three freed: 9 MiB cached, nothing live.
  void* a = host_alloc(2 * mib);
  void* b = host_alloc(3 * mib);
  void* c = host_alloc(4 * mib);
  host_free(a, 2 * mib);
  host_free(b, 3 * mib);
  host_free(c, 4 * mib);
  const HostMemoryStats before = host_memory_stats();
  CHECK(before.bytes_cached == 9 * mib);
  // 5 MiB misses: live 5 + cached 9 = 14 > 9, so at least 5 MiB go back; no one block covers 5, so the
  // largest first: 4 then 3 MiB, leaving the 2 MiB block.
  void* d = host_alloc(5 * mib);
  HostMemoryStats s = host_memory_stats();
  CHECK(s.bytes_cached == 2 * mib);
  CHECK(s.bytes_released - before.bytes_released == 7 * mib);
  // 512 KiB misses (the 2 MiB block is more than twice its class): live 5.5 + cached 2 = 7.5 <= 9: nothing
  // goes back.
  void* e = host_alloc(mib / 2);
  CHECK(host_memory_stats().bytes_cached == 2 * mib);
  // 4 MiB misses: live 9.5 + cached 2 > 9.5 (the new peak), 2 MiB over: the 2 MiB block covers it.
  void* f = host_alloc(4 * mib);
  CHECK(host_memory_stats().bytes_cached == 0);
  host_free(d, 5 * mib);
  host_free(e, mib / 2);
  host_free(f, 4 * mib);
  // Under kKeepAll nothing is given back by a miss.
  set_host_cache_policy(HostCachePolicy::kKeepAll);
  const size_t cached = host_memory_stats().bytes_cached;
  void* g = host_alloc(7 * mib);
  CHECK(host_memory_stats().bytes_cached == cached);
  host_free(g, 7 * mib);
  host_empty_cache();
}

TEST_CASE("host allocator: within the live peak, a request takes a free block of up to twice its class") {
  if (!host_memory_stats().caching) return;  // PLEURA_CPU_NO_CACHE: nothing is cached
  const WithinLivePeak policy;
  // A live peak of 20 MiB, so that no miss below gives cached blocks back.
  void* room = host_alloc(20 * mib);
  host_free(room, 20 * mib);
  host_empty_cache();
  void* big = host_alloc(8 * mib);
  host_free(big, 8 * mib);
  const HostMemoryStats before = host_memory_stats();
  // 3 MiB: the 8 MiB block is more than twice its class: a new block.
  void* small = host_alloc(3 * mib);
  CHECK(small != big);
  CHECK(host_memory_stats().cache_misses == before.cache_misses + 1);
  // 5 MiB: the 8 MiB block, a hit on a larger block; nothing else cached meanwhile.
  void* middle = host_alloc(5 * mib);
  CHECK(middle == big);
  HostMemoryStats s = host_memory_stats();
  CHECK(s.larger_hits == before.larger_hits + 1);
  CHECK(s.cache_hits == before.cache_hits + 1);
  CHECK(s.bytes_cached == 0);
  std::memset(middle, 0x5a, 5 * mib);  // the memory is the caller's
  // Freed, it goes back to its own class: an 8 MiB request finds it exactly, another 5 MiB one too.
  host_free(middle, 5 * mib);
  CHECK(host_memory_stats().bytes_cached == 8 * mib);
  void* again = host_alloc(8 * mib);
  CHECK(again == big);
  CHECK(host_memory_stats().larger_hits == before.larger_hits + 1);
  host_free(again, 8 * mib);
  host_free(small, 3 * mib);
  // Under kKeepAll a request takes only its own class.
  set_host_cache_policy(HostCachePolicy::kKeepAll);
  void* keep_all = host_alloc(5 * mib);
  CHECK(keep_all != big);
  host_free(keep_all, 5 * mib);
  host_empty_cache();
}
