// The logistic function as the CPU kernels compute it (cpu/sigmoid.cpp, cpu/combo_loss.cpp); its CUDA
// twin is cuda/stable_sigmoid.cuh. exp is only ever taken of -|x| <= 0, so it lies in [0, 1] and cannot
// overflow: for x >= 0, 1 / (1 + exp(-x)); for x < 0, the same value written as e / (1 + e) with
// e = exp(x). NaN fails x >= 0 and comes out of exp(NaN) as NaN.
#pragma once

#include <cmath>

namespace pleura::cpu {

template <class T>
inline T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace pleura::cpu
