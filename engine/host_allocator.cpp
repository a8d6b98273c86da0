// The host allocator of host_allocator.h.
#include "engine/host_allocator.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "engine/error.h"

namespace pleura {

namespace {

bool caching_from_env() {
  const char* env = std::getenv("PLEURA_CPU_NO_CACHE");
  return !(env != nullptr && env[0] != '\0' && std::strcmp(env, "0") != 0);
}

size_t rounded_size(size_t bytes) {
  if (bytes < kCachedMin) return (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  size_t step = bytes <= (size_t(1) << 20) ? size_t(64) << 10 : size_t(1) << 20;
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::map<size_t, std::vector<void*>> free_blocks;  // by rounded size
  HostMemoryStats stats;
  bool caching = caching_from_env();
};

Cache& cache() {
  // Never destroyed: tensors held by static objects may be freed after it would have been.
  static Cache* c = new Cache();
  return *c;
}

void* c_alloc(size_t rounded) {
  void* p = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
  PLEURA_CHECK(p != nullptr, "[tensor] out of host memory allocating ", rounded, " bytes");
  return p;
}

}  // namespace

void* host_alloc(size_t bytes) {
  size_t rounded = rounded_size(bytes);
  Cache& c = cache();
  if (rounded < kCachedMin || !c.caching) return c_alloc(rounded);
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_blocks.find(rounded);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.bytes_cached -= rounded;
      ++c.stats.cache_hits;
      return p;
    }
    ++c.stats.cache_misses;
  }
  return c_alloc(rounded);
}

void host_free(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  size_t rounded = rounded_size(bytes);
  Cache& c = cache();
  if (rounded < kCachedMin || !c.caching) {
    std::free(ptr);
    return;
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  c.free_blocks[rounded].push_back(ptr);
  c.stats.bytes_cached += rounded;
}

HostMemoryStats host_memory_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  HostMemoryStats s = c.stats;
  s.caching = c.caching;
  return s;
}

void host_empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [size, blocks] : c.free_blocks)
    for (void* p : blocks) std::free(p);
  c.free_blocks.clear();
  c.stats.bytes_cached = 0;
}

}  // namespace pleura
