// CPU kernel of hflip (engine/ops/flip.h); twin: cuda/flip.cu. One row of W values per step, parallel
// over the N*C*H rows.
#include "cpu/float_types.h"
#include "engine/parallel.h"
#include "engine/ops/flip.h"

namespace pleura::cpu {

void hflip_fwd(const Tensor& x, Tensor& y) {
  with_float_type(x.dtype(), "hflip", [&](auto tag) {
    using T = decltype(tag);
    const int64_t W = x.size(-1), rows = x.numel() / W;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* src = px + r * W;
        T* dst = py + r * W;
        for (int64_t w = 0; w < W; ++w) dst[w] = src[W - 1 - w];
      }
    });
  });
}

}  // namespace pleura::cpu
