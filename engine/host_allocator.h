// Host memory for CPU tensors: 64-byte aligned, with a cache of large blocks. A training step allocates
// the same large activation buffers every time; handing freed ones back out avoids the page faults and
// zeroing a fresh mapping costs (about 6% of an AlbuNet step on the CPU, measured with perf).
// Blocks of at least kCachedMin bytes are rounded to size classes (64 KiB steps up to 1 MiB, 1 MiB steps
// above) and kept on free lists by class; smaller ones go straight to the C library. How much the cache
// keeps is a policy (set_host_cache_policy). Caching is off with PLEURA_CPU_NO_CACHE=1 (for valgrind and
// sanitizers). When the C library has no memory left, the
// cache is given back and the request tried once more; then OutOfMemoryError (engine/alloc_context.h)
// names the request, the machine's available memory, the op, the layer and the workload.
// Tests: tests/engine/test_host_allocator.cpp.
#pragma once

#include <cstddef>

namespace pleura {

constexpr size_t kHostAlignment = 64;
constexpr size_t kCachedMin = size_t(256) << 10;

void* host_alloc(size_t bytes);
void host_free(void* ptr, size_t bytes);

struct HostMemoryStats {
  size_t bytes_cached = 0;   // free blocks held for reuse
  size_t cache_hits = 0;     // large requests served from the cache
  size_t larger_hits = 0;    // of which by a block of a larger size class (kWithinLivePeak)
  size_t cache_misses = 0;   // large requests that went to the C library
  size_t bytes_released = 0; // cached bytes given back to the C library by misses
  bool caching = true;
};
HostMemoryStats host_memory_stats();

// kKeepAll (the default): every freed large block stays for reuse. Training repeats its step, so a step
// finds all its blocks there (AlbuNet at 256x256: 271 misses in 3906 requests, all in the first step).
// kWithinLivePeak: a request the cache cannot serve first gives back cached blocks (one that covers it,
// else the largest) until live plus cached bytes are within the most the live blocks ever took, so the
// cache never makes the process bigger than its tensors do. For inference, where a forward pass walks
// through many sizes once: AlbuNet 1024x1024 with flip TTA peaked at 2988 MiB resident under kKeepAll,
// 2203 MiB under kWithinLivePeak, the same as with no cache. Under kWithinLivePeak a request whose own class
// has no free block takes a free one of up to twice its class before it goes to the C library: it is resident
// already, where a new one would be page-faulted in (ResNet50-UNet, 1024x1024, flip TTA: about 2.5 GiB of
// fresh pages per image before, on a Zen 5). (In training it costs hits and, through the C
// library's heap, some memory: 2878 hits instead of 3635 and 1310 MiB instead of 1273.) The live peak
// counts from the call.
enum class HostCachePolicy { kKeepAll, kWithinLivePeak };
void set_host_cache_policy(HostCachePolicy policy);
// Returns every cached block to the C library.
void host_empty_cache();

// Tests only: requests of at least `bytes` that the cache cannot serve fail as if out of memory (0: off);
// setting it empties the cache. The environment variable PLEURA_FAULT_HOST_ALLOC=<bytes> sets it at
// start-up, for tests of whole programs.
void set_host_alloc_failure_for_tests(size_t bytes);

}  // namespace pleura
