// Launch geometry for elementwise kernels: grid-stride loops over int64 indices, or int32 ones where
// they fit (narrow_indices_fit).
#pragma once

#include <cstdint>

#include "cuda/context.h"
#include "engine/cuda_runtime.h"

namespace pleura::cuda {

constexpr int kBlockThreads = 256;

// Enough blocks to cover n elements, capped: kernels use grid-stride loops for the rest.
inline unsigned grid_for(int64_t n, int threads = kBlockThreads) {
  int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = 65536;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks < cap ? blocks : cap);
}

// True when a grid-stride loop over n elements may count in int32_t: n, and a step of the largest grid
// past it (grid_for's 65536 blocks of up to 1024 threads, 2^26), stay below 2^31. False when a test
// forces the 64-bit kernels (wide_indices_forced, engine/cuda_runtime.h).
inline bool narrow_indices_fit(int64_t n) {
  return !wide_indices_forced().load(std::memory_order_relaxed) && n <= int64_t{0x7fffffff} - (int64_t{1} << 26);
}

}  // namespace pleura::cuda

// for (int64_t i = first; i < n; i += stride) with the grid-stride pattern.
#define PLEURA_KERNEL_LOOP(i, n)                                                             \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);     \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// The same loop with an index of type Index (int32_t where narrow_indices_fit, else int64_t).
#define PLEURA_KERNEL_LOOP_AS(Index, i, n)                                              \
  for (Index i = static_cast<Index>(blockIdx.x) * static_cast<Index>(blockDim.x) +      \
                 static_cast<Index>(threadIdx.x);                                       \
       i < (n); i += static_cast<Index>(blockDim.x) * static_cast<Index>(gridDim.x))
