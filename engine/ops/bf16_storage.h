// bf16_storage: float32 tensors kept as bfloat16 (two bytes an element) and widened back. The store rounds
// to the nearest bfloat16 exactly as round_bf16 does (engine/ops/round_bf16.h), so widening what was stored
// gives round_bf16's values; for a tensor that already holds bfloat16 values the pair is lossless. What the
// bf16 policy keeps for backward (engine/saved_activation.h) is kept this way. No autograd.
// CPU kernels cpu/bf16_storage.cpp, CUDA kernels cuda/bf16_storage.cu, tests tests/ops/test_bf16_storage.cpp.
#pragma once

#include <cstdint>

#include "engine/ops/round_bf16.h"
#include "engine/tensor.h"

namespace pleura {

// x: float32. A bfloat16 tensor of the same shape on the same device.
Tensor to_bf16_storage(const Tensor& x);
// x: bfloat16. A float32 tensor of the same shape on the same device.
Tensor from_bf16_storage(const Tensor& x);

// The bfloat16 bits of v rounded to nearest, ties to even (round_to_bf16's upper half).
PLEURA_HOST_DEVICE inline uint16_t bf16_bits(float v) {
  const float r = round_to_bf16(v);
  uint32_t u;
#if defined(__CUDA_ARCH__)
  u = __float_as_uint(r);
#else
  std::memcpy(&u, &r, sizeof(u));
#endif
  return static_cast<uint16_t>(u >> 16);
}

// The float32 whose upper half is `bits`: every bfloat16 is a float32.
PLEURA_HOST_DEVICE inline float bf16_value(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float v;
  std::memcpy(&v, &u, sizeof(v));
  return v;
#endif
}

namespace cpu {
void to_bf16_storage(const Tensor& x, Tensor& out);
void from_bf16_storage(const Tensor& x, Tensor& out);
}  // namespace cpu
namespace cuda {
void to_bf16_storage(const Tensor& x, Tensor& out);
void from_bf16_storage(const Tensor& x, Tensor& out);
}  // namespace cuda

}  // namespace pleura
