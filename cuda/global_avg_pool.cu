// CUDA kernels of global_avg_pool (engine/ops/global_avg_pool.h); twin: cpu/global_avg_pool.cpp,
// tests: tests/ops/test_global_avg_pool.cpp.
// Forward: a plane of up to kPartValues values is one block's, summed with block_sum in double; a larger
// plane is cut into parts of kPartValues, one block each, whose sums one thread per plane adds in order.
// One block per plane of 512x512 left most of an H100 idle (128 blocks for 2 x 64 planes, 0.08 of the
// copy bandwidth in the last GPU run); with parts the grid has thousands of blocks. The cut depends on
// the plane size alone and there are no atomics, so every run gives the same bits.
// Backward: one thread per element of grad_x, with 32-bit index arithmetic where the tensor allows it
// (a 64-bit division costs dozens of instructions per element).
#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "engine/ops/global_avg_pool.h"

namespace pleura::cuda {

namespace {

constexpr int kPoolThreads = 256;
constexpr int64_t kPartValues = 16 * kPoolThreads;  // values per block: 16 per thread

// Block (plane, part): the double sum of part `part` of plane blockIdx.x; with one part per plane the
// block writes the mean itself (sums == nullptr), else the part's sum to sums[plane * parts + part].
__global__ void global_avg_pool_part_kernel(const float* x, float* y, double* sums, int64_t hw) {
  const int64_t plane = blockIdx.x;
  const int part = blockIdx.y, parts = gridDim.y;
  const float* values = x + plane * hw;
  const int64_t begin = part * kPartValues;
  const int64_t end = begin + kPartValues < hw ? begin + kPartValues : hw;
  // Double accumulation: planes reach 256 x 256 and more, and the CPU reference sums in double too.
  double s = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) s += static_cast<double>(values[i]);
  s = block_sum(s);
  if (threadIdx.x != 0) return;
  if (sums == nullptr) {
    y[plane] = static_cast<float>(s / static_cast<double>(hw));
  } else {
    sums[plane * parts + part] = s;
  }
}

// One thread per plane: its parts' sums in order, then the mean.
__global__ void global_avg_pool_parts_sum_kernel(const double* sums, int parts, int64_t planes, int64_t hw, float* y) {
  PLEURA_KERNEL_LOOP(plane, planes) {
    double s = 0.0;
    for (int p = 0; p < parts; ++p) s += sums[plane * parts + p];
    y[plane] = static_cast<float>(s / static_cast<double>(hw));
  }
}

template <class Index>
__global__ void global_avg_pool_bwd_kernel(const float* grad_y, float* grad_x, Index total, Index hw) {
  const float scale_hw = static_cast<float>(hw);
  // A float division, as the CPU's float path does, so the two agree bit for bit.
  PLEURA_KERNEL_LOOP_AS(Index, i, total) { grad_x[i] = grad_y[i / hw] / scale_hw; }
}

}  // namespace

void global_avg_pool_fwd(const Tensor& x, Tensor& y) {
  const int64_t planes = x.size(0) * x.size(1), hw = x.size(2) * x.size(3);
  if (planes == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = stream(dev);
  const int64_t parts = (hw + kPartValues - 1) / kPartValues;
  PLEURA_CHECK(planes <= 0x7fffffff && parts <= 65535, "[global_avg_pool] ", planes, " planes of ", hw,
               " values exceed the CUDA grid (2^31 - 1 planes, 65535 parts of ", kPartValues, " values)");
  const dim3 grid(static_cast<unsigned>(planes), static_cast<unsigned>(parts));
  Tensor sums;  // scratch from the caching allocator, alive for the queued kernels by stream order
  if (parts > 1) sums = Tensor::empty(Shape{planes * parts}, DType::kFloat64, x.device());
  global_avg_pool_part_kernel<<<grid, kPoolThreads, 0, s>>>(x.data<float>(), y.data<float>(),
                                                           parts > 1 ? sums.data<double>() : nullptr, hw);
  PLEURA_CUDA_LAUNCH_CHECK();
  if (parts == 1) return;
  global_avg_pool_parts_sum_kernel<<<grid_for(planes), kBlockThreads, 0, s>>>(
      sums.data<double>(), static_cast<int>(parts), planes, hw, y.data<float>());
  PLEURA_CUDA_LAUNCH_CHECK();
}

void global_avg_pool_bwd(const Tensor& grad_y, Tensor& grad_x) {
  const int64_t total = grad_x.numel(), hw = grad_x.size(2) * grad_x.size(3);
  if (total == 0) return;
  const int dev = grad_y.device().index;
  DeviceGuard guard(dev);
  const unsigned blocks = grid_for(total);
  if (narrow_indices_fit(total)) {
    global_avg_pool_bwd_kernel<int32_t><<<blocks, kBlockThreads, 0, stream(dev)>>>(
        grad_y.data<float>(), grad_x.data<float>(), static_cast<int32_t>(total), static_cast<int32_t>(hw));
  } else {
    global_avg_pool_bwd_kernel<int64_t><<<blocks, kBlockThreads, 0, stream(dev)>>>(grad_y.data<float>(),
                                                                                   grad_x.data<float>(), total, hw);
  }
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
