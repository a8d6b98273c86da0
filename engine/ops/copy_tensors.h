// copy_tensors: copies each of a list of tensors into its partner of another list, in place (no
// autograd), in a few launches on CUDA however many tensors: the trainer's snapshot of the model's
// buffers at the start of each grad_accum window (train/train_epoch.cpp), which a skipped step puts back.
// CPU kernel cpu/copy_tensors.cpp, CUDA kernel cuda/copy_tensors.cu (cuda/multi_tensor.cuh), tests
// tests/ops/test_copy_tensors.cpp.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace pleura {

// dst[i] = src[i] for every i: same shapes, dtypes and device (any dtype; the bytes are copied).
void copy_tensors(const std::vector<Tensor>& src, std::vector<Tensor>& dst);

namespace cpu {
void copy_tensors(const std::vector<Tensor>& src, std::vector<Tensor>& dst);
}  // namespace cpu
namespace cuda {
void copy_tensors(const std::vector<Tensor>& src, std::vector<Tensor>& dst);
}  // namespace cuda

}  // namespace pleura
