// CPU kernel of adam_step (engine/ops/adam.h); twin: cuda/adam.cu. Element arithmetic in the parameter's
// type, in the order the CUDA kernel uses, with the per-step constants computed once in double.
#include <cmath>

#include "cpu/float_types.h"
#include "engine/parallel.h"
#include "engine/ops/adam.h"

namespace pleura::cpu {

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s) {
  with_float_type(param.dtype(), "adam_step", [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    const T scale = static_cast<T>(s.grad_scale), wd = static_cast<T>(s.weight_decay);
    const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
    const T step_size = static_cast<T>(s.lr / (1.0 - std::pow(s.beta1, static_cast<double>(s.step))));
    const T root_bc2 = static_cast<T>(std::sqrt(1.0 - std::pow(s.beta2, static_cast<double>(s.step))));
    const T eps = static_cast<T>(s.eps);
    parallel_for(param.numel(), 1 << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        T gi = g[i] * scale + wd * p[i];
        m[i] = b1 * m[i] + (T(1) - b1) * gi;
        v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
        T denom = std::sqrt(v[i]) / root_bc2 + eps;
        p[i] -= step_size * (m[i] / denom);
      }
    });
  });
}

}  // namespace pleura::cpu
