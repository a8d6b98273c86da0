// CUDA kernel of copy_tensors (engine/ops/copy_tensors.h); twin: cpu/copy_tensors.cpp. Lists of up to
// kListTensors pairs per launch (cuda/multi_tensor.cuh), each block copying one chunk of bytes.
#include <array>

#include "cuda/launch.h"
#include "cuda/multi_tensor.cuh"
#include "engine/ops/copy_tensors.h"

namespace pleura::cuda {

namespace {
__global__ void copy_tensors_kernel(TensorList<2> list) { copy_list_chunk(list); }
}  // namespace

void copy_tensors(const std::vector<Tensor>& src, std::vector<Tensor>& dst) {
  const int dev = src.front().device().index;
  DeviceGuard guard(dev);
  std::vector<std::array<void*, 2>> data;
  std::vector<int64_t> bytes;
  for (size_t i = 0; i < src.size(); ++i) {
    data.push_back({dst[i].raw(), src[i].raw()});
    bytes.push_back(static_cast<int64_t>(src[i].nbytes()));
  }
  for_each_list<2>(data, bytes, [&](const TensorList<2>& list) {
    copy_tensors_kernel<<<list.first_chunk[list.count], kBlockThreads, 0, stream(dev)>>>(list);
    PLEURA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace pleura::cuda
