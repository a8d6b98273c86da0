// Multi-tensor launches: one kernel over many tensors (the parameters, their gradients, the model's
// buffers), so that an optimizer step or a gradient norm is a few launches, not one per tensor. The host
// packs up to kListTensors tensors into a TensorList passed by value as the kernel's argument (no upload,
// no allocation); each block works on one chunk of kChunkElements elements of one tensor. Used by
// cuda/adam.cu, cuda/squared_norm.cu, cuda/step_ledger.cu and cuda/copy_tensors.cu.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace pleura::cuda {

constexpr int kListTensors = 24;
constexpr int64_t kChunkElements = 8192;

// kArrays parallel arrays per tensor (e.g. parameter, gradient, exp_avg, exp_avg_sq), all of numel[t]
// elements.
template <int kArrays>
struct TensorList {
  void* data[kArrays][kListTensors];
  int64_t numel[kListTensors];
  int32_t index[kListTensors];            // the tensor's position in the caller's whole list
  int32_t first_chunk[kListTensors + 1];  // prefix sums of the tensors' chunks; [count] = chunks of the list
  int32_t chunk_offset;                   // chunks of the lists launched before this one
  int32_t count;
};

inline int64_t chunks_of(int64_t numel) { return (numel + kChunkElements - 1) / kChunkElements; }

// Chunks of all the tensors together (one partial sum each, for squared_norm).
inline int64_t total_chunks(const std::vector<int64_t>& numel) {
  int64_t c = 0;
  for (int64_t n : numel) c += chunks_of(n);
  return c;
}

// Packs the tensors (their data pointers, per array, and element counts) into lists in order and calls
// launch(list) for each list that has a chunk; list.first_chunk[list.count] is its grid size.
template <int kArrays, class Launch>
void for_each_list(const std::vector<std::array<void*, kArrays>>& data, const std::vector<int64_t>& numel,
                   Launch&& launch) {
  TensorList<kArrays> list{};
  int64_t chunks_before = 0;
  auto flush = [&] {
    if (list.count > 0 && list.first_chunk[list.count] > 0) launch(list);
    chunks_before += list.first_chunk[list.count];
    list = TensorList<kArrays>{};
    list.chunk_offset = static_cast<int32_t>(chunks_before);
  };
  for (size_t i = 0; i < data.size(); ++i) {
    const int t = list.count;
    for (int a = 0; a < kArrays; ++a) list.data[a][t] = data[i][a];
    list.numel[t] = numel[i];
    list.index[t] = static_cast<int32_t>(i);
    list.first_chunk[t + 1] = list.first_chunk[t] + static_cast<int32_t>(chunks_of(numel[i]));
    list.count = t + 1;
    if (list.count == kListTensors) flush();
  }
  flush();
}

#if defined(__CUDACC__)
// The list's tensor that chunk `chunk` (0 <= chunk < first_chunk[count]) belongs to.
template <int kArrays>
__device__ inline int list_tensor_of(const TensorList<kArrays>& list, int chunk) {
  int t = 0;
  while (chunk >= list.first_chunk[t + 1]) ++t;
  return t;
}

// This block's chunk of a byte copy: list.data[1][t] -> list.data[0][t], numel counting bytes.
__device__ inline void copy_list_chunk(const TensorList<2>& list) {
  const int t = list_tensor_of(list, static_cast<int>(blockIdx.x));
  const int64_t begin = (static_cast<int64_t>(blockIdx.x) - list.first_chunk[t]) * kChunkElements;
  const int64_t end = min(list.numel[t], begin + kChunkElements);
  unsigned char* dst = static_cast<unsigned char*>(list.data[0][t]);
  const unsigned char* src = static_cast<const unsigned char*>(list.data[1][t]);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) dst[i] = src[i];
}
#endif

}  // namespace pleura::cuda
