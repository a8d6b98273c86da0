// The host allocator of host_allocator.h.
#include "engine/host_allocator.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/alloc_context.h"
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
  HostCachePolicy policy = HostCachePolicy::kKeepAll;
  size_t live = 0;       // bytes of cacheable blocks handed out and not freed
  size_t live_peak = 0;  // the most `live` has been
  // Blocks handed out for a smaller request than their size class (take_larger_block), by address: their class.
  std::unordered_map<void*, size_t> larger_blocks;
};

Cache& cache() {
  // Never destroyed: tensors held by static objects may be freed after it would have been.
  static Cache* c = new Cache();
  return *c;
}

// Tests only: requests of at least this many bytes fail as if the machine were out of memory
// (PLEURA_FAULT_HOST_ALLOC=<bytes>, or set_host_alloc_failure_for_tests). 0: off.
std::atomic<size_t>& failure_threshold() {
  static std::atomic<size_t> threshold{[] {
    const char* env = std::getenv("PLEURA_FAULT_HOST_ALLOC");
    return env != nullptr ? static_cast<size_t>(std::strtoull(env, nullptr, 10)) : size_t{0};
  }()};
  return threshold;
}

void* try_c_alloc(size_t rounded) {
  const size_t fail_at = failure_threshold().load(std::memory_order_relaxed);
  if (fail_at != 0 && rounded >= fail_at) return nullptr;
  return std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
}

// MemAvailable and MemTotal of /proc/meminfo, in bytes (0, 0 when unreadable).
std::pair<size_t, size_t> available_and_total() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t kib = 0, available = 0, total = 0;
  while (in >> key >> kib) {
    if (key == "MemAvailable:") available = kib << 10;
    if (key == "MemTotal:") total = kib << 10;
    in.ignore(64, '\n');
  }
  return {available, total};
}

// From the C library; when it has nothing, the cache goes back to it and the request is tried once more,
// then OutOfMemoryError names the request, the machine's memory and what was running.
void* c_alloc(size_t bytes, size_t rounded) {
  if (void* p = try_c_alloc(rounded)) return p;
  const size_t cached = host_memory_stats().bytes_cached;
  host_empty_cache();
  if (void* p = try_c_alloc(rounded)) return p;
  const auto [available, total] = available_and_total();
  throw OutOfMemoryError(out_of_memory_message(
      "cpu", bytes, rounded,
      cat("the machine has ", mib_text(available), " available of ", mib_text(total), " (Pleura's cache of ",
          mib_text(cached), " was given back first)")));
}

// Takes cached blocks worth at least `bytes` off the free lists (fewer if the cache holds less), for the
// caller to give back: one block of the smallest size class that covers `bytes` if there is one, else the
// largest blocks first. Called with the cache locked.
std::vector<void*> take_for_release(Cache& c, size_t bytes) {
  std::vector<void*> taken;
  auto pop = [&](std::map<size_t, std::vector<void*>>::iterator it) {
    taken.push_back(it->second.back());
    it->second.pop_back();
    c.stats.bytes_cached -= it->first;
    c.stats.bytes_released += it->first;
    const size_t size = it->first;
    if (it->second.empty()) c.free_blocks.erase(it);
    return size;
  };
  for (auto it = c.free_blocks.lower_bound(bytes); it != c.free_blocks.end(); ++it)
    if (!it->second.empty()) {
      pop(it);
      return taken;
    }
  size_t released = 0;
  while (released < bytes && !c.free_blocks.empty()) {
    auto it = std::prev(c.free_blocks.end());
    if (it->second.empty()) {
      c.free_blocks.erase(it);
      continue;
    }
    released += pop(it);
  }
  return taken;
}

// Under kWithinLivePeak, a request of size class `rounded` that has no block of its own may take a cached one
// of up to twice its class: it is already resident and counted in the footprint, where a fresh block would be
// page-faulted in and add to it (an inference walks through many sizes, each forward pass the same ones).
// The smallest such block, or null. Called with the cache locked.
void* take_larger_block(Cache& c, size_t rounded) {
  for (auto it = c.free_blocks.upper_bound(rounded); it != c.free_blocks.end() && it->first <= 2 * rounded; ++it) {
    if (it->second.empty()) continue;
    void* p = it->second.back();
    it->second.pop_back();
    c.stats.bytes_cached -= it->first;
    ++c.stats.cache_hits;
    ++c.stats.larger_hits;
    c.live += it->first;
    c.live_peak = std::max(c.live_peak, c.live);
    c.larger_blocks.emplace(p, it->first);
    return p;
  }
  return nullptr;
}

}  // namespace

void* host_alloc(size_t bytes) {
  size_t rounded = rounded_size(bytes);
  Cache& c = cache();
  if (rounded < kCachedMin || !c.caching) return c_alloc(bytes, rounded);
  std::vector<void*> release;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_blocks.find(rounded);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.bytes_cached -= rounded;
      ++c.stats.cache_hits;
      c.live += rounded;
      c.live_peak = std::max(c.live_peak, c.live);
      return p;
    }
    if (c.policy == HostCachePolicy::kWithinLivePeak)
      if (void* p = take_larger_block(c, rounded)) return p;
    ++c.stats.cache_misses;
    c.live += rounded;
    c.live_peak = std::max(c.live_peak, c.live);
    const size_t footprint = c.live + c.stats.bytes_cached;
    if (c.policy == HostCachePolicy::kWithinLivePeak && footprint > c.live_peak)
      release = take_for_release(c, footprint - c.live_peak);
  }
  for (void* p : release) std::free(p);
  try {
    return c_alloc(bytes, rounded);
  } catch (...) {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.live -= rounded;
    throw;
  }
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
  if (auto it = c.larger_blocks.find(ptr); it != c.larger_blocks.end()) {
    rounded = it->second;  // back to its own class
    c.larger_blocks.erase(it);
  }
  c.free_blocks[rounded].push_back(ptr);
  c.stats.bytes_cached += rounded;
  c.live -= rounded;
}

HostMemoryStats host_memory_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  HostMemoryStats s = c.stats;
  s.caching = c.caching;
  return s;
}

void set_host_cache_policy(HostCachePolicy policy) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.policy = policy;
  c.live_peak = c.live;  // the peak counts from here
}

void set_host_alloc_failure_for_tests(size_t bytes) {
  failure_threshold().store(bytes, std::memory_order_relaxed);
  if (bytes != 0) host_empty_cache();  // or the cache would serve what the failure is to refuse
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
