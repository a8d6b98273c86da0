// The caching device allocator behind pleura::cuda::alloc/free (engine/cuda_runtime.h).
//
// Sizes are rounded to classes (512 B steps up to 1 MiB, 1 MiB steps above), and a freed block goes to
// a free list keyed by (stream, class) to be handed out again for the same class on the same stream.
// Every op runs on its device's one compute stream, so a block freed there is safe to reuse at once:
// later work on that stream is ordered after the work that used it. When cudaMalloc fails, the cache
// is returned to CUDA and the call retried once. PLEURA_CUDA_NO_CACHE=1 turns caching off (each
// request is one cudaMalloc and each free one cudaFree), so that compute-sanitizer sees every buffer.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "engine/cuda_runtime.h"

namespace pleura::cuda {

size_t size_class(size_t bytes);
void* allocator_alloc(size_t bytes, int device, cudaStream_t stream);
void allocator_free(void* ptr, size_t bytes, int device, cudaStream_t stream);
MemoryStats allocator_stats(int device);
void allocator_reset_peak(int device);
void allocator_empty_cache(int device);

}  // namespace pleura::cuda
