// CPU kernel of add (engine/ops/add.h); twin: cuda/add.cu.
#include "engine/ops/add.h"

#include "cpu/float_types.h"
#include "engine/parallel.h"

namespace pleura::cpu {

void add_fwd(const Tensor& a, const Tensor& b, Tensor& out) {
  with_float_type(a.dtype(), "add", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    parallel_for(a.numel(), 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) po[i] = pa[i] + pb[i];
    });
  });
}

}  // namespace pleura::cpu
