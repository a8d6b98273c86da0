// The logistic function as the CUDA kernels compute it (cuda/sigmoid.cu, cuda/combo_loss.cu), with the
// branches of cpu/stable_sigmoid.h: expf only sees -|x|, so it never overflows (x = -1000 gives e = 0 and
// 0 exactly, not inf / inf); NaN takes the second branch and stays NaN. expf, not __expf: the fast
// intrinsic would move the result away from the CPU's by more than the parity tests allow.
#pragma once

namespace pleura::cuda {

__device__ inline float stable_sigmoid(float x) {
  if (x >= 0.f) return 1.f / (1.f + expf(-x));
  float e = expf(x);
  return e / (1.f + e);
}

}  // namespace pleura::cuda
