// The engine's view of the CUDA runtime: memory and copies, in plain C++ (no CUDA headers).
// Implemented by cuda/runtime.cu when Pleura is built with CUDA, and by cuda/no_cuda.cpp otherwise,
// whose functions throw "built without CUDA".
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/dtype.h"

namespace pleura::cuda {

// True when this build contains the CUDA backend.
bool built();
// Number of usable CUDA devices; 0 when none (or when built without CUDA). Never throws.
int device_count();
// Throws a clear pleura::Error unless device `index` can be used: "built without CUDA" or
// "no CUDA device available: <reason>".
void require_device(int index);
// One line naming the device, driver and runtime versions (for logs).
std::string describe_device(int index);

// The elementwise kernels index with 32-bit integers where a launch's indices fit (a 64-bit division or
// modulo costs dozens of instructions per element on a GPU) and with 64-bit ones otherwise. Tests force
// the 64-bit kernels on small tensors, so that both variants are compared with the CPU.
inline std::atomic<bool>& wide_indices_forced() {
  static std::atomic<bool> forced{false};
  return forced;
}

// Device memory from the caching allocator (cuda/allocator.cu). Sizes in bytes.
void* alloc(size_t bytes, int device);
void free(void* ptr, size_t bytes, int device);

// Copies; the d2h copy waits for the data.
void copy_h2d(void* dst_dev, const void* src, size_t bytes, int device);
void copy_d2h(void* dst, const void* src_dev, size_t bytes, int device);
void copy_d2d(void* dst_dev, const void* src_dev, size_t bytes, int device);
void memset_zero(void* ptr_dev, size_t bytes, int device);
void fill_bytes(void* ptr_dev, unsigned char value, size_t bytes, int device);
// Sets n elements of a float32 or float64 array to value.
void fill(void* ptr_dev, int64_t n, DType dtype, double value, int device);
void synchronize(int device);

// Pinned (page-locked) host memory, for fast transfers. Without CUDA: throws "built without CUDA".
// The loader takes it from a pool that reuses it (engine/pinned_pool.h).
void* alloc_pinned(size_t bytes);
void free_pinned(void* ptr);

// Fences: a marker put on `device`'s stream after the work queued so far (a CUDA event from a pool of
// events), and whether the device has passed it, asked without waiting (ids are never 0). Thread-safe.
uint64_t record_fence(int device);
bool fence_passed(uint64_t fence);

// Caching allocator statistics (cuda/allocator.h), in bytes and calls since the start (or the last reset
// of the peaks).
struct MemoryStats {
  size_t bytes_in_use = 0;       // handed out to tensors (rounded to 512 B)
  size_t peak_bytes_in_use = 0;
  size_t bytes_reserved = 0;     // held from cudaMalloc, in use or cached
  size_t peak_bytes_reserved = 0;
  size_t num_cuda_malloc = 0;
  size_t num_cuda_free = 0;
  size_t num_allocs = 0;         // requests served
  size_t num_cache_hits = 0;     // requests served from the cache
  size_t num_splits = 0;         // blocks split to serve a smaller request
  size_t num_merges = 0;         // freed blocks merged with a free neighbour
  bool caching = true;           // false when PLEURA_CUDA_NO_CACHE=1 (for compute-sanitizer)
};
MemoryStats memory_stats(int device);
void reset_peak_memory(int device);
// Returns every cached, unused block to CUDA.
void empty_cache(int device);

// CUDA graphs (cuda/graph.cu). Between begin_graph_capture and end_graph_capture, the work this thread
// queues on `device`'s stream is recorded, not run, and the caching allocator serves that stream from a
// pool of the graph's own (engine/block_pool.h, open_private), so a replay finds its memory as the capture
// left it. end_graph_capture returns the instantiated graph, or nullptr with `why` saying what could not
// be captured (an operation that waits for the device, memory freed that the graph may read); the
// device's state is then as before the capture (no work was run). replay_graph queues the graph's work
// on the stream again; destroy_graph frees the graph and gives its pool's free memory back (the caller
// makes sure no replay is still running); until then no out-of-memory retry or empty_cache takes it.
void begin_graph_capture(int device);
void* end_graph_capture(int device, std::string& why);
void replay_graph(void* graph, int device);
void destroy_graph(void* graph);

// Convolution and matrix-product math: TF32 tensor cores allowed (the default, as PyTorch does for
// cuDNN), or strict IEEE float32 (used by the parity tests).
enum class MathMode { kAllowTF32, kStrictFP32 };
void set_math_mode(MathMode mode);
MathMode math_mode();

}  // namespace pleura::cuda
