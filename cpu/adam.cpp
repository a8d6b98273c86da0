// CPU kernels of adam_step and adam_multi_step (engine/ops/adam.h); twin: cuda/adam.cu. Element
// arithmetic in the parameter's type, in the order the CUDA kernels use, with the per-step constants
// computed once in double (engine/ops/adam_math.h). adam_multi_step is adam_step per listed parameter.
#include <cmath>

#include "cpu/float_types.h"
#include "engine/ops/adam.h"
#include "engine/ops/adam_math.h"
#include "engine/ops/step_ledger.h"
#include "engine/parallel.h"

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
    const T step_size = static_cast<T>(adam_math::step_size(s.lr, s.beta1, s.step));
    const T root_bc2 = static_cast<T>(adam_math::root_bias_correction2(s.beta2, s.step));
    const T eps = static_cast<T>(s.eps);
    // Captured by value: with references the compiler must assume a store to m, v or p may change the
    // constants, so it reloads them every element and does not vectorise (the same operations either way,
    // correctly rounded, so the bits do not change).
    parallel_for(param.numel(), 1 << 14, [=](int64_t i0, int64_t i1) {
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

void adam_multi_step(AdamTensors& t, Tensor& steps, const Tensor& ledger, const AdamHyper& h) {
  const StepLedger& l = *reinterpret_cast<const StepLedger*>(ledger.data<double>());
  if (l.apply == 0.0) return;
  double* counts = steps.data<double>();
  for (size_t i = 0; i < t.params.size(); ++i) {
    double& count = counts[t.step_slots[i]];
    count += 1.0;
    const AdamStep s{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, static_cast<int64_t>(count), l.grad_scale};
    cpu::adam_step(t.params[i], t.grads[i], t.exp_avgs[i], t.exp_avg_sqs[i], s);
  }
}

}  // namespace pleura::cpu
