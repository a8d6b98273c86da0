// CPU kernels of gated_residual_relu (engine/ops/gated_residual_relu.h); twin: cuda/gated_residual_relu.cu,
// tests: tests/ops/test_gated_residual_relu.cpp. One (n, c) plane per item: its gate is one factor, and the
// gate's gradient is the plane's sum, serial in double as mul_bwd sums it, so the bits do not depend on the
// thread count and equal those of mul, add and relu.
#include "engine/ops/gated_residual_relu.h"

#include "cpu/float_types.h"
#include "engine/parallel.h"

namespace pleura::cpu {

void gated_residual_relu_fwd(const Tensor& x, const Tensor& gate, const Tensor& residual, Tensor& y) {
  with_float_type(x.dtype(), "gated_residual_relu", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pgate = gate.data<T>();
    const T* pr = residual.data<T>();
    T* py = y.data<T>();
    const int64_t hw = x.size(2) * x.size(3);
    parallel_for(x.size(0) * x.size(1), grain_for_elements(hw), [=](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const T g = pgate[p];
        for (int64_t i = p * hw; i < (p + 1) * hw; ++i) {
          // Rounded after the product and after the sum, as mul and add round; NaN passes the ReLU.
          const T product = px[i] * g;
          const T s = product + pr[i];
          py[i] = s < T(0) ? T(0) : s;
        }
      }
    });
  });
}

void gated_residual_relu_bwd(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& grad_y,
                             Tensor* grad_sum, Tensor* grad_x, Tensor* grad_gate) {
  with_float_type(x.dtype(), "gated_residual_relu", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pgate = gate.data<T>();
    const T* py = y.data<T>();
    const T* pgy = grad_y.data<T>();
    T* pgs = grad_sum ? grad_sum->data<T>() : nullptr;
    T* pgx = grad_x ? grad_x->data<T>() : nullptr;
    T* pgg = grad_gate ? grad_gate->data<T>() : nullptr;
    const int64_t hw = x.size(2) * x.size(3);
    parallel_for(x.size(0) * x.size(1), grain_for_elements(hw), [=](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const T g = pgate[p];
        const int64_t end = (p + 1) * hw;
        if (pgs)
          for (int64_t i = p * hw; i < end; ++i) pgs[i] = py[i] > T(0) ? pgy[i] : T(0);
        if (pgx)
          for (int64_t i = p * hw; i < end; ++i) pgx[i] = (py[i] > T(0) ? pgy[i] : T(0)) * g;
        if (pgg) {
          double sum = 0.0;
          for (int64_t i = p * hw; i < end; ++i) sum += static_cast<double>(py[i] > T(0) ? pgy[i] : T(0)) * px[i];
          pgg[p] = static_cast<T>(sum);
        }
      }
    });
  });
}

}  // namespace pleura::cpu
