// round_bf16: float32 values rounded to the nearest bfloat16 (8 significant bits, ties to even; NaN stays a
// NaN, infinities stay, values beyond bfloat16's largest round to infinity), kept in float32 storage. The
// CPU's stand-in for bfloat16 tensors under the bf16 precision policy (engine/precision.h), so that the CPU
// computes what a GPU computing in bf16 would. No autograd (the caller handles gradients). The rounding is
// bf16_bits below (round_to_bf16 its value), one copy for both backends and for engine/ops/bf16_storage.h;
// CPU kernel cpu/round_bf16.cpp, CUDA kernel cuda/round_bf16.cu, tests tests/ops/test_round_bf16.cpp.
#pragma once

#include <cstdint>
#include <cstring>

#include "engine/ops/exact_math.h"
#include "engine/tensor.h"

namespace pleura {

// x: float32. A new tensor of the rounded values.
Tensor round_bf16(const Tensor& x);
// The same in place.
void round_bf16_inplace(Tensor& x);

// The bits of a float32 and back (memcpy on the host, the intrinsics on a GPU).
PLEURA_HOST_DEVICE inline uint32_t float_bits(float v) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(v);
#else
  uint32_t u;
  std::memcpy(&u, &v, sizeof(u));
  return u;
#endif
}
PLEURA_HOST_DEVICE inline float float_of_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float v;
  std::memcpy(&v, &u, sizeof(v));
  return v;
#endif
}

// The bfloat16 nearest to v as its 16 bits (a bfloat16 is the upper half of a float32).
PLEURA_HOST_DEVICE inline uint16_t bf16_bits(float v) {
  uint32_t u = float_bits(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    u |= 0x00400000u;  // a NaN: quiet, sign kept
  } else {
    u += 0x7fffu + ((u >> 16) & 1u);  // to nearest, ties to even (a carry may reach the exponent: inf)
  }
  return static_cast<uint16_t>(u >> 16);
}

// The float32 whose upper half is `bits`: every bfloat16 is a float32.
PLEURA_HOST_DEVICE inline float bf16_value(uint16_t bits) { return float_of_bits(static_cast<uint32_t>(bits) << 16); }

PLEURA_HOST_DEVICE inline float round_to_bf16(float v) { return bf16_value(bf16_bits(v)); }

namespace cpu {
void round_bf16(const Tensor& x, Tensor& out);  // out may be x
}  // namespace cpu
namespace cuda {
void round_bf16(const Tensor& x, Tensor& out);
}  // namespace cuda

}  // namespace pleura
