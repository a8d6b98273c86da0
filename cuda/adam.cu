// CUDA kernel of adam_step (engine/ops/adam.h); twin: cpu/adam.cpp. Same arithmetic, same order; the
// _rn intrinsics keep nvcc from fusing multiplies and adds into FMAs, so both backends round alike.
#include <cmath>

#include "cuda/launch.h"
#include "engine/ops/adam.h"

namespace pleura::cuda {

namespace {

struct AdamConsts {
  float scale, wd, b1, one_minus_b1, b2, one_minus_b2, step_size, root_bc2, eps;
};

__global__ void adam_step_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamConsts c) {
  PLEURA_KERNEL_LOOP(i, n) {
    float gi = __fadd_rn(__fmul_rn(g[i], c.scale), __fmul_rn(c.wd, p[i]));
    float mi = __fadd_rn(__fmul_rn(c.b1, m[i]), __fmul_rn(c.one_minus_b1, gi));
    float vi = __fadd_rn(__fmul_rn(c.b2, v[i]), __fmul_rn(__fmul_rn(c.one_minus_b2, gi), gi));
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), c.root_bc2), c.eps);
    m[i] = mi;
    v[i] = vi;
    p[i] = __fsub_rn(p[i], __fmul_rn(c.step_size, __fdiv_rn(mi, denom)));
  }
}

}  // namespace

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s) {
  int64_t n = param.numel();
  if (n == 0) return;
  int dev = param.device().index;
  DeviceGuard guard(dev);
  // Same float constants as the CPU kernel (which also computes them in double, then rounds).
  AdamConsts c{static_cast<float>(s.grad_scale),
               static_cast<float>(s.weight_decay),
               static_cast<float>(s.beta1),
               1.f - static_cast<float>(s.beta1),
               static_cast<float>(s.beta2),
               1.f - static_cast<float>(s.beta2),
               static_cast<float>(s.lr / (1.0 - std::pow(s.beta1, static_cast<double>(s.step)))),
               static_cast<float>(std::sqrt(1.0 - std::pow(s.beta2, static_cast<double>(s.step)))),
               static_cast<float>(s.eps)};
  adam_step_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(param.data<float>(), grad.data<float>(),
                                                                    exp_avg.data<float>(), exp_avg_sq.data<float>(), n, c);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
