// round_bf16: float32 values rounded to the nearest bfloat16 (8 significant bits, ties to even; NaN stays a
// NaN, infinities stay, values beyond bfloat16's largest round to infinity), kept in float32 storage. The
// CPU's stand-in for bfloat16 tensors under the bf16 precision policy (engine/precision.h), so that the CPU
// computes what a GPU computing in bf16 would. No autograd (the caller handles gradients). The rounding is
// round_to_bf16 below, one copy for both backends; CPU kernel cpu/round_bf16.cpp, CUDA kernel
// cuda/round_bf16.cu, tests tests/ops/test_round_bf16.cpp.
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

PLEURA_HOST_DEVICE inline float round_to_bf16(float v) {
  uint32_t u;
#if defined(__CUDA_ARCH__)
  u = __float_as_uint(v);
#else
  std::memcpy(&u, &v, sizeof(u));
#endif
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    u = (u | 0x00400000u) & 0xffff0000u;  // a NaN: quiet, sign kept
  } else {
    u += 0x7fffu + ((u >> 16) & 1u);  // to nearest, ties to even (a carry may reach the exponent: inf)
    u &= 0xffff0000u;
  }
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float r;
  std::memcpy(&r, &u, sizeof(r));
  return r;
#endif
}

namespace cpu {
void round_bf16(const Tensor& x, Tensor& out);  // out may be x
}  // namespace cpu
namespace cuda {
void round_bf16(const Tensor& x, Tensor& out);
}  // namespace cuda

}  // namespace pleura
