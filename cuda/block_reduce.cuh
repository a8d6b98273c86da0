// Block-wide sums for reduction kernels: warp shuffles, then one shared-memory step across warps.
// The order of additions is fixed by the thread layout, so results are deterministic run to run.
#pragma once

namespace pleura::cuda {

template <class T>
__device__ inline T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sum of v over the block; the result is valid in thread 0. blockDim.x must be a multiple of 32 and
// at most 1024. Contains __syncthreads(): every thread of the block must call it.
template <class T>
__device__ inline T block_sum(T v) {
  __shared__ T warp_totals[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // warp_totals may still be read by a previous call
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  int warps = blockDim.x >> 5;
  v = threadIdx.x < warps ? warp_totals[threadIdx.x] : T(0);
  if (warp == 0) v = warp_sum(v);
  return v;
}

}  // namespace pleura::cuda
