// bf16_storage: float32 tensors kept as bfloat16 (two bytes an element) and widened back. The store rounds
// to the nearest bfloat16 exactly as round_bf16 does (engine/ops/round_bf16.h's bf16_bits and bf16_value), so
// widening what was stored gives round_bf16's values; for a tensor that already holds bfloat16 values the pair
// is lossless. What the bf16 policy keeps for backward (engine/saved_activation.h) is kept this way. No autograd.
// CPU kernels cpu/bf16_storage.cpp, CUDA kernels cuda/bf16_storage.cu, tests tests/ops/test_bf16_storage.cpp.
#pragma once

#include "engine/ops/round_bf16.h"
#include "engine/tensor.h"

namespace pleura {

// x: float32. A bfloat16 tensor of the same shape on the same device.
Tensor to_bf16_storage(const Tensor& x);
// x: bfloat16. A float32 tensor of the same shape on the same device.
Tensor from_bf16_storage(const Tensor& x);

namespace cpu {
void to_bf16_storage(const Tensor& x, Tensor& out);
void from_bf16_storage(const Tensor& x, Tensor& out);
}  // namespace cpu
namespace cuda {
void to_bf16_storage(const Tensor& x, Tensor& out);
void from_bf16_storage(const Tensor& x, Tensor& out);
}  // namespace cuda

}  // namespace pleura
