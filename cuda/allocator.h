// The caching device allocator behind pleura::cuda::alloc/free (engine/cuda_runtime.h): one
// splitting and coalescing BlockPool per device (engine/block_pool.h, whose policy is tested on the host
// by tests/engine/test_block_pool.cpp) over cudaMalloc/cudaFree. Every op runs on its device's compute
// stream, and a block is reused only on the stream it was made for, so a freed block can be handed out
// again at once: later work on that stream is ordered after the work that used it. When cudaMalloc
// fails, the pool returns its free segments to CUDA and tries once more, then throws an out-of-memory
// error naming the request, the device's free and total memory, the op and the workload.
// PLEURA_CUDA_NO_CACHE=1 turns caching off (each request is one cudaMalloc and each free one cudaFree),
// so that compute-sanitizer sees every buffer.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "engine/cuda_runtime.h"

namespace pleura::cuda {

void* allocator_alloc(size_t bytes, int device, cudaStream_t stream);
void allocator_free(void* ptr, size_t bytes, int device, cudaStream_t stream);
MemoryStats allocator_stats(int device);
void allocator_reset_peak(int device);
void allocator_empty_cache(int device);
// The private pool of a graph capture on `stream` (BlockPool::open_private / close_private); with caching
// off there is no pool to keep apart, and a capture is refused.
void allocator_open_private(int device, cudaStream_t stream, uintptr_t pool);
size_t allocator_close_private(int device);
// BlockPool::release_private: the graph of `pool` is gone.
void allocator_release_private(int device, uintptr_t pool);
bool allocator_caching();

}  // namespace pleura::cuda
