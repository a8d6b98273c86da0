// Host memory for CPU tensors: 64-byte aligned, with a cache of large blocks. A training step allocates
// the same large activation buffers every time; handing freed ones back out avoids the page faults and
// zeroing a fresh mapping costs (about 6% of an AlbuNet step on the CPU, measured with perf).
// Blocks of at least kCachedMin bytes are cached, smaller ones go straight to the C library. How the cache
// keeps them is a policy (set_host_cache_policy): free lists by size class (64 KiB steps up to 1 MiB, 1 MiB
// steps above) for training, a splitting and coalescing pool for inference. Caching is off with
// PLEURA_CPU_NO_CACHE=1 (for valgrind and sanitizers). When the system has no memory left, the cache is
// given back and the request tried once more; then OutOfMemoryError (engine/alloc_context.h)
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
  size_t bytes_cached = 0;   // free memory held for reuse
  size_t cache_hits = 0;     // large requests served from the cache
  size_t planned_hits = 0;   // of which from the plan of a repeated pass (HostPlannedPass)
  size_t cache_misses = 0;   // large requests that took new memory from the system
  size_t bytes_released = 0; // cached bytes given back to the system to make room (kWithinLivePeak)
  bool caching = true;
};
HostMemoryStats host_memory_stats();

// kKeepAll (the default): every freed large block stays on its class's free list for reuse. Training
// repeats its step, so a step finds all its blocks there (AlbuNet at 256x256: 271 misses in 3906 requests,
// all in the first step).
// kWithinLivePeak, for inference, where a forward pass walks through many sizes once: large requests come
// from a pool that splits and coalesces blocks (engine/block_pool.h) over segments mapped for it, so a size
// no freed block has is cut from a larger free block or served by free neighbours merged, where a free list
// per class would map and page-fault in a new block; and when a new segment would take the pool past the
// most its blocks were ever in use, its free segments are given back first, so it holds about what its
// tensors need (plus what the splits leave unused). ResNet50-UNet, 1024x1024, flip TTA, on a 2-core Zen 5:
// 0.82x the inference time of the free lists under the same bound (which page-faulted about 2.5 GiB in per
// image), peak resident memory 1649 MiB against 1444; the pool held 1314 MiB for at most 1014 in use.
// Blocks from before the switch go back to the C library when freed. The peak counts from the call;
// switching back to kKeepAll gives the pool's free segments back.
enum class HostCachePolicy { kKeepAll, kWithinLivePeak };
void set_host_cache_policy(HostCachePolicy policy);
// Returns every cached block to the system.
void host_empty_cache();

// One pass of an inference that repeats its allocations (infer/predict.cpp: one batch through the ensemble;
// bench_unet: one step), for the scope of this object, under kWithinLivePeak. The first such pass maps each
// large block on its own, given back when freed (so it holds only what is live), and records their sizes and
// lifetimes; at its end they are laid out in one arena of the most that was live at once (engine/pass_plan.h).
// Later passes take their large blocks at the planned places while their requests follow the record, and
// from the pool when one strays (another size, a place still in use), for the rest of that pass. A pass left
// by an exception records nothing; nested passes are one pass. On the Zen 5 of the pool's figures above, peak
// resident memory of a 1024x1024 inference with flip TTA fell from 2189 to 1744 MiB (AlbuNet), 1517 to 1287
// (ResNet50-UNet) and 1262 to 1157 (SCSE-UNet), with the pool's speed within the machine's noise (the
// record pass is page-faulted in like the free lists' passes were).
class HostPlannedPass {
 public:
  HostPlannedPass();
  ~HostPlannedPass();
  HostPlannedPass(const HostPlannedPass&) = delete;
  HostPlannedPass& operator=(const HostPlannedPass&) = delete;

 private:
  bool owner_ = false;
};

// Tests only: requests of at least `bytes` that the cache cannot serve fail as if out of memory (0: off);
// setting it empties the cache. The environment variable PLEURA_FAULT_HOST_ALLOC=<bytes> sets it at
// start-up, for tests of whole programs.
void set_host_alloc_failure_for_tests(size_t bytes);

}  // namespace pleura
