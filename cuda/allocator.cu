// Caching device allocator; the policy is described in allocator.h.
#include "cuda/allocator.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "cuda/context.h"
#include "engine/counters.h"
#include "engine/error.h"

namespace pleura::cuda {

namespace {

constexpr size_t kSmallStep = 512;
constexpr size_t kSmallLimit = size_t(1) << 20;
constexpr size_t kLargeStep = size_t(1) << 20;
constexpr int kMaxDevices = 16;

bool caching_from_env() {
  const char* env = std::getenv("PLEURA_CUDA_NO_CACHE");
  return !(env != nullptr && env[0] != '\0' && std::strcmp(env, "0") != 0);
}

struct DeviceCache {
  std::map<std::pair<cudaStream_t, size_t>, std::vector<void*>> free_blocks;
  MemoryStats stats;
};

std::mutex g_mutex;
std::array<DeviceCache, kMaxDevices> g_caches;
const bool g_caching = caching_from_env();

DeviceCache& cache(int device) {
  PLEURA_CHECK(device >= 0 && device < kMaxDevices, "[cuda alloc] device index ", device, " out of range");
  return g_caches[device];
}

void release_cached(DeviceCache& c, int device) {
  DeviceGuard guard(device);
  for (auto& [key, blocks] : c.free_blocks) {
    for (void* p : blocks) {
      PLEURA_CUDA_CHECK(cudaFree(p));
      count(Counter::kDeviceFree);
      ++c.stats.num_cuda_free;
      c.stats.bytes_reserved -= key.second;
    }
  }
  c.free_blocks.clear();
}

}  // namespace

size_t size_class(size_t bytes) {
  if (bytes == 0) bytes = 1;
  size_t step = bytes <= kSmallLimit ? kSmallStep : kLargeStep;
  return (bytes + step - 1) / step * step;
}

void* allocator_alloc(size_t bytes, int device, cudaStream_t stream) {
  size_t rounded = size_class(bytes);
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceCache& c = cache(device);
  c.stats.caching = g_caching;
  ++c.stats.num_allocs;
  void* ptr = nullptr;
  auto it = c.free_blocks.find({stream, rounded});
  if (it != c.free_blocks.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    ++c.stats.num_cache_hits;
  } else {
    DeviceGuard guard(device);
    cudaError_t err = cudaMalloc(&ptr, rounded);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky-free error state before retrying
      release_cached(c, device);
      err = cudaMalloc(&ptr, rounded);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw_error(cat("[cuda alloc] cudaMalloc of ", rounded, " bytes on cuda:", device, " failed: ",
                      cudaGetErrorString(err), " (in use ", c.stats.bytes_in_use, " bytes, reserved ",
                      c.stats.bytes_reserved, " bytes)"));
    }
    ++c.stats.num_cuda_malloc;
    count(Counter::kDeviceMalloc);
    c.stats.bytes_reserved += rounded;
  }
  c.stats.bytes_in_use += rounded;
  if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
  return ptr;
}

void allocator_free(void* ptr, size_t bytes, int device, cudaStream_t stream) {
  size_t rounded = size_class(bytes);
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceCache& c = cache(device);
  c.stats.bytes_in_use -= rounded;
  if (g_caching) {
    c.free_blocks[{stream, rounded}].push_back(ptr);
    return;
  }
  DeviceGuard guard(device);
  // Without the cache the block goes back to CUDA now; cudaFree waits for work that may still use it.
  PLEURA_CUDA_CHECK_LOG(cudaFree(ptr));
  count(Counter::kDeviceFree);
  ++c.stats.num_cuda_free;
  c.stats.bytes_reserved -= rounded;
}

MemoryStats allocator_stats(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  MemoryStats s = cache(device).stats;
  s.caching = g_caching;
  return s;
}

void allocator_reset_peak(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceCache& c = cache(device);
  c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
}

void allocator_empty_cache(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  release_cached(cache(device), device);
}

}  // namespace pleura::cuda
