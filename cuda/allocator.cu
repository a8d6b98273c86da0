// The caching device allocator (allocator.h): a BlockPool per device over a cudaMalloc heap, or plain
// cudaMalloc/cudaFree with PLEURA_CUDA_NO_CACHE=1.
#include "cuda/allocator.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "cuda/context.h"
#include "engine/alloc_context.h"
#include "engine/block_pool.h"
#include "engine/counters.h"
#include "engine/error.h"

namespace pleura::cuda {

namespace {

constexpr int kMaxDevices = 16;

bool caching_from_env() {
  const char* env = std::getenv("PLEURA_CUDA_NO_CACHE");
  return !(env != nullptr && env[0] != '\0' && std::strcmp(env, "0") != 0);
}

// Segments straight from cudaMalloc / cudaFree on one device, counted (engine/counters.h).
class CudaHeap : public SegmentHeap {
 public:
  explicit CudaHeap(int device) : device_(device) {}
  void* allocate(size_t bytes) override {
    DeviceGuard guard(device_);
    void* ptr = nullptr;
    const cudaError_t err = cudaMalloc(&ptr, bytes);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the error so that later calls do not report it
      return nullptr;
    }
    PLEURA_CUDA_CHECK(err);
    count(Counter::kDeviceMalloc);
    ++mallocs;
    return ptr;
  }
  void release(void* base, size_t) override {
    DeviceGuard guard(device_);
    // cudaFree waits for work that may still use the segment.
    PLEURA_CUDA_CHECK_LOG(cudaFree(base));
    count(Counter::kDeviceFree);
    ++frees;
  }
  std::pair<size_t, size_t> free_and_total() const override {
    DeviceGuard guard(device_);
    size_t free_bytes = 0, total = 0;
    if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
      cudaGetLastError();
      return {0, 0};
    }
    return {free_bytes, total};
  }
  size_t mallocs = 0, frees = 0;

 private:
  int device_;
};

struct DeviceMemory {
  std::unique_ptr<CudaHeap> heap;
  std::unique_ptr<BlockPool> pool;
  MemoryStats uncached;  // the PLEURA_CUDA_NO_CACHE=1 path's statistics
};

std::mutex g_mutex;
std::array<DeviceMemory, kMaxDevices> g_devices;
const bool g_caching = caching_from_env();

DeviceMemory& memory(int device) {
  PLEURA_CHECK(device >= 0 && device < kMaxDevices, "[cuda alloc] device index ", device, " out of range");
  DeviceMemory& m = g_devices[device];
  if (!m.pool) {
    m.heap = std::make_unique<CudaHeap>(device);
    m.pool = std::make_unique<BlockPool>(*m.heap, "cuda:" + std::to_string(device));
  }
  return m;
}

StreamId stream_id(cudaStream_t stream) { return reinterpret_cast<StreamId>(stream); }

// Without the cache: one cudaMalloc per request, the same out-of-memory message.
void* alloc_uncached(DeviceMemory& m, size_t bytes, int device) {
  void* ptr = m.heap->allocate(bytes == 0 ? 1 : bytes);
  if (ptr == nullptr) {
    const auto [free_bytes, total] = m.heap->free_and_total();
    const std::string memory = cat("cuda:", device);
    throw OutOfMemoryError(out_of_memory_message(
        memory, bytes, bytes, cat(memory, " has ", mib_text(free_bytes), " free of ", mib_text(total))));
  }
  MemoryStats& s = m.uncached;
  ++s.num_allocs;
  ++s.num_cuda_malloc;
  s.bytes_in_use += bytes;
  s.bytes_reserved += bytes;
  if (s.bytes_in_use > s.peak_bytes_in_use) s.peak_bytes_in_use = s.bytes_in_use;
  return ptr;
}

}  // namespace

void* allocator_alloc(size_t bytes, int device, cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceMemory& m = memory(device);
  if (!g_caching) return alloc_uncached(m, bytes, device);
  return m.pool->allocate(bytes, stream_id(stream));
}

void allocator_free(void* ptr, size_t bytes, int device, cudaStream_t) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceMemory& m = memory(device);
  if (g_caching) {
    m.pool->free(ptr);
    return;
  }
  m.heap->release(ptr, bytes);
  ++m.uncached.num_cuda_free;
  m.uncached.bytes_in_use -= bytes;
  m.uncached.bytes_reserved -= bytes;
}

MemoryStats allocator_stats(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceMemory& m = memory(device);
  if (!g_caching) {
    MemoryStats s = m.uncached;
    s.caching = false;
    return s;
  }
  const BlockPoolStats p = m.pool->stats();
  MemoryStats s;
  s.bytes_in_use = p.bytes_in_use;
  s.peak_bytes_in_use = p.peak_bytes_in_use;
  s.bytes_reserved = p.bytes_reserved;
  s.peak_bytes_reserved = p.peak_bytes_reserved;
  s.num_cuda_malloc = p.heap_allocs;
  s.num_cuda_free = p.heap_frees;
  s.num_allocs = p.allocs;
  s.num_cache_hits = p.cache_hits;
  s.num_splits = p.splits;
  s.num_merges = p.merges;
  s.caching = true;
  return s;
}

void allocator_reset_peak(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceMemory& m = memory(device);
  if (g_caching) {
    m.pool->reset_peak();
  } else {
    m.uncached.peak_bytes_in_use = m.uncached.bytes_in_use;
  }
}

void allocator_empty_cache(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceMemory& m = memory(device);
  if (g_caching) m.pool->release_cached();
}

void allocator_open_private(int device, cudaStream_t stream, uintptr_t pool) {
  std::lock_guard<std::mutex> lock(g_mutex);
  PLEURA_CHECK(g_caching, "[cuda graph] capture needs the caching allocator (PLEURA_CUDA_NO_CACHE is set)");
  memory(device).pool->open_private(stream_id(stream), pool);
}

size_t allocator_close_private(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return memory(device).pool->close_private();
}

void allocator_release_private(int device, uintptr_t pool) {
  std::lock_guard<std::mutex> lock(g_mutex);
  memory(device).pool->release_private(pool);
}

bool allocator_caching() { return g_caching; }

}  // namespace pleura::cuda
