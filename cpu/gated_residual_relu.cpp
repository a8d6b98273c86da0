// CPU kernels of gated_residual_relu (engine/ops/gated_residual_relu.h); twin: cuda/gated_residual_relu.cu,
// tests: tests/ops/test_gated_residual_relu.cpp. One (n, c) plane per item: its gate is one factor, and the
// gate's gradient is the plane's sum in double in cpu/reduce.h's lanes, as mul_bwd sums it, so the bits do
// not depend on the thread count and equal those of mul, add and relu.
#include "engine/ops/gated_residual_relu.h"

#include <vector>

#include "cpu/float_types.h"
#include "cpu/reduce.h"
#include "engine/ops/stored_value.h"
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

namespace {

// One plane's gradients (gated_residual_relu_bwd). X, Y: T, or the bits of the bfloat16 copies backward keeps
// under the bf16 policy (engine/saved_activation.h), read as they are.
template <class T, class X, class Y>
void plane_gradients(const X* xp, T g, const Y* yp, const T* gyp, int64_t hw, T* gs, T* gx, T* gg) {
  // relu_bwd's rule, both loads unconditional so that the loop selects instead of branching (ReLU masks
  // are close to random: a branch per element took 6.8% of an SCSE-UNet training step, mispredicted).
  for (int64_t i = 0; i < hw; ++i) {
    const T grad = gyp[i];
    gs[i] = stored_value(yp[i]) > 0 ? grad : T(0);
  }
  if (gx)
    for (int64_t i = 0; i < hw; ++i) gx[i] = gs[i] * g;
  if (gg) {
    auto term = [gs, xp](int64_t i) { return static_cast<double>(gs[i]) * stored_value(xp[i]); };
    *gg = static_cast<T>(lane_sum(hw, term));
  }
}

}  // namespace

void gated_residual_relu_bwd(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& grad_y,
                             Tensor* grad_sum, Tensor* grad_x, Tensor* grad_gate) {
  with_float_type(grad_y.dtype(), "gated_residual_relu", [&](auto tag) {
    using T = decltype(tag);
    with_stored_data<T>(x, [&](const auto* px) {
      with_stored_data<T>(y, [&](const auto* py) {
        const T* pgate = gate.data<T>();
        const T* pgy = grad_y.data<T>();
        T* pgs = grad_sum ? grad_sum->data<T>() : nullptr;
        T* pgx = grad_x ? grad_x->data<T>() : nullptr;
        T* pgg = grad_gate ? grad_gate->data<T>() : nullptr;
        const int64_t hw = x.size(2) * x.size(3);
        parallel_for(x.size(0) * x.size(1), grain_for_elements(hw), [=](int64_t p0, int64_t p1) {
          std::vector<T> scratch(pgs ? 0 : static_cast<size_t>(hw));  // the masked gradient, when not an output
          for (int64_t p = p0; p < p1; ++p)
            plane_gradients(px + p * hw, pgate[p], py + p * hw, pgy + p * hw, hw, pgs ? pgs + p * hw : scratch.data(),
                            pgx ? pgx + p * hw : nullptr, pgg ? pgg + p : nullptr);
        });
      });
    });
  });
}

}  // namespace pleura::cpu
