// squared_norm: the sum of the squares of every element of a list of tensors, in float64, as one
// float64 element on their device (no host read): the squared global gradient norm that clipping and the
// non-finite check need (engine/ops/step_ledger.h). No autograd. CPU kernel cpu/squared_norm.cpp, CUDA
// kernel cuda/squared_norm.cu (a few launches however many tensors), tests tests/ops/test_squared_norm.cpp.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace pleura {

// tensors: float32 or float64 (float32 only on CUDA), all of one dtype and on one device; at least one.
// Each square is formed and summed in float64, in chunks whose partial sums are then added in order, so
// the result does not depend on the number of threads (the two backends differ in the last bits: the
// order of additions inside a chunk differs). A NaN or infinity anywhere gives a non-finite result.
Tensor squared_norm(const std::vector<Tensor>& tensors);

namespace cpu {
void squared_norm(const std::vector<Tensor>& tensors, Tensor& out);
}  // namespace cpu
namespace cuda {
void squared_norm(const std::vector<Tensor>& tensors, Tensor& out);
}  // namespace cuda

}  // namespace pleura
