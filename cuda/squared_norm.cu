// CUDA kernel of squared_norm (engine/ops/squared_norm.h); twin: cpu/squared_norm.cpp. Pass 1, one launch
// per list of tensors (cuda/multi_tensor.cuh): each block writes the float64 sum of squares of its chunk
// into a partial; pass 2, one block adds the partials in a fixed order. Deterministic run to run.
#include <array>

#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "cuda/multi_tensor.cuh"
#include "engine/ops/squared_norm.h"

namespace pleura::cuda {

namespace {

constexpr int kFinalThreads = 1024;

__global__ void chunk_squares_kernel(TensorList<1> list, double* partial) {
  const int t = list_tensor_of(list, static_cast<int>(blockIdx.x));
  const int64_t begin = (static_cast<int64_t>(blockIdx.x) - list.first_chunk[t]) * kChunkElements;
  const int64_t end = min(list.numel[t], begin + kChunkElements);
  const float* x = static_cast<const float*>(list.data[0][t]);
  double s = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double v = static_cast<double>(x[i]);
    s += v * v;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partial[list.chunk_offset + blockIdx.x] = s;
}

__global__ void add_partials_kernel(const double* partial, int64_t n, double* out) {
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += partial[i];
  s = block_sum(s);
  if (threadIdx.x == 0) out[0] = s;
}

}  // namespace

void squared_norm(const std::vector<Tensor>& tensors, Tensor& out) {
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  std::vector<std::array<void*, 1>> data;
  std::vector<int64_t> numel;
  for (const Tensor& t : tensors) {
    data.push_back({t.raw()});
    numel.push_back(t.numel());
  }
  const int64_t chunks = total_chunks(numel);
  Tensor partial = Tensor::zeros(Shape{chunks > 0 ? chunks : 1}, DType::kFloat64, out.device());
  double* partial_dev = partial.data<double>();
  for_each_list<1>(data, numel, [&](const TensorList<1>& list) {
    chunk_squares_kernel<<<list.first_chunk[list.count], kBlockThreads, 0, stream(dev)>>>(list, partial_dev);
    PLEURA_CUDA_LAUNCH_CHECK();
  });
  add_partials_kernel<<<1, kFinalThreads, 0, stream(dev)>>>(partial_dev, chunks, out.data<double>());
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
