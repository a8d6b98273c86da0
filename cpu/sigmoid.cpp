// CPU kernels of sigmoid (engine/ops/sigmoid.h); twin: cuda/sigmoid.cu.
#include "engine/ops/sigmoid.h"

#include <cmath>

#include "cpu/float_types.h"
#include "engine/parallel.h"
#include "cpu/stable_sigmoid.h"

namespace pleura::cpu {

void sigmoid_fwd(const Tensor& x, Tensor& y) {
  with_float_type(x.dtype(), "sigmoid", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(x.numel(), 1 << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) py[i] = stable_sigmoid(px[i]);
    });
  });
}

void sigmoid_bwd(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  with_float_type(y.dtype(), "sigmoid", [&](auto tag) {
    using T = decltype(tag);
    const T* py = y.data<T>();
    const T* pg = grad_y.data<T>();
    T* pgx = grad_x.data<T>();
    parallel_for(y.numel(), 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pgx[i] = pg[i] * py[i] * (T(1) - py[i]);
    });
  });
}

}  // namespace pleura::cpu
