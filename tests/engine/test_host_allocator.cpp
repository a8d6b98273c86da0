// Tests of engine/host_allocator.h: alignment, reuse of large blocks, small blocks untouched.
#include "engine/host_allocator.h"

#include <cstdint>

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
    CHECK(after.cache_hits == before.cache_hits + 1);
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
