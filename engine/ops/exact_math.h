// Arithmetic that rounds the same on the host and in a CUDA kernel: the PLEURA_HOST_DEVICE marker for
// functions compiled into both backends, and single IEEE operations rounded to nearest. nvcc contracts
// a*b+c into one FMA by default; the _rn intrinsics forbid it. The host build is ISO C++ (-std=c++20),
// where g++ does not contract. Used by the *_math.h headers of engine/ops/ (triplet masks, combo loss,
// Adam, the step ledger) and by round_bf16.h.
#pragma once

#if defined(__CUDACC__)
#define PLEURA_HOST_DEVICE __host__ __device__
#else
#define PLEURA_HOST_DEVICE
#endif

namespace pleura::exact {

PLEURA_HOST_DEVICE inline float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
PLEURA_HOST_DEVICE inline float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
PLEURA_HOST_DEVICE inline float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
PLEURA_HOST_DEVICE inline float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
PLEURA_HOST_DEVICE inline double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
PLEURA_HOST_DEVICE inline double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

}  // namespace pleura::exact
