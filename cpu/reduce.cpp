// CPU kernels of sum and mean (engine/ops/reduce.h); twin: cuda/reduce.cu.
#include "cpu/reduce.h"

#include "cpu/float_types.h"
#include "engine/parallel.h"
#include "engine/ops/reduce.h"

namespace pleura::cpu {

void sum_fwd(const Tensor& x, double scale, Tensor& out) {
  with_float_type(x.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    out.data<T>()[0] = static_cast<T>(scale * sum_of(x.data<T>(), x.numel()));
  });
}

void sum_bwd(const Tensor& grad_out, double scale, Tensor& grad_x) {
  with_float_type(grad_out.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    T g = static_cast<T>(scale * static_cast<double>(grad_out.data<T>()[0]));
    T* p = grad_x.data<T>();
    parallel_for(grad_x.numel(), 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) p[i] = g;
    });
  });
}

}  // namespace pleura::cpu
