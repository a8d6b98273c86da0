// Launch geometry for elementwise kernels: grid-stride loops over int64 indices.
#pragma once

#include <cstdint>

#include "cuda/context.h"

namespace pleura::cuda {

constexpr int kBlockThreads = 256;

// Enough blocks to cover n elements, capped: kernels use grid-stride loops for the rest.
inline unsigned grid_for(int64_t n, int threads = kBlockThreads) {
  int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = 65536;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks < cap ? blocks : cap);
}

}  // namespace pleura::cuda

// for (int64_t i = first; i < n; i += stride) with the grid-stride pattern.
#define PLEURA_KERNEL_LOOP(i, n)                                                             \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);     \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)
