// CPU kernels of maximum (engine/ops/maximum.h); twin: cuda/maximum.cu.
#include "engine/ops/maximum.h"

#include "cpu/float_types.h"
#include "engine/parallel.h"

namespace pleura::cpu {

void maximum_fwd(const Tensor& a, const Tensor& b, Tensor& out) {
  with_float_type(a.dtype(), "maximum", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    parallel_for(a.numel(), 1 << 15, [&](int64_t i0, int64_t i1) {
      // a != a is true only for NaN: a NaN a is returned; a NaN b fails a > b and b is returned.
      for (int64_t i = i0; i < i1; ++i) po[i] = (pa[i] > pb[i] || pa[i] != pa[i]) ? pa[i] : pb[i];
    });
  });
}

void maximum_bwd(const Tensor& a, const Tensor& b, const Tensor& grad_out, Tensor* grad_a, Tensor* grad_b) {
  with_float_type(a.dtype(), "maximum", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const T* pg = grad_out.data<T>();
    T* pga = grad_a ? grad_a->data<T>() : nullptr;
    T* pgb = grad_b ? grad_b->data<T>() : nullptr;
    parallel_for(a.numel(), 1 << 15, [&](int64_t i0, int64_t i1) {
      // PyTorch: where(a == b, g / 2, g), then zeroed where the other input is strictly larger.
      for (int64_t i = i0; i < i1; ++i) {
        T g = pa[i] == pb[i] ? pg[i] / T(2) : pg[i];
        if (pga) pga[i] = pa[i] < pb[i] ? T(0) : g;
        if (pgb) pgb[i] = pa[i] > pb[i] ? T(0) : g;
      }
    });
  });
}

}  // namespace pleura::cpu
