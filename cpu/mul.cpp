// CPU kernels of mul (engine/ops/mul.h); twin: cuda/mul.cu. The broadcast gradient sums each factor's
// terms in double in a fixed order (the channel gate's in cpu/reduce.h's lanes), so results do not depend on
// the thread count.
#include "engine/ops/mul.h"

#include "cpu/float_types.h"
#include "cpu/reduce.h"
#include "engine/parallel.h"

namespace pleura::cpu {

namespace {
struct Dims {
  int64_t n, c, hw;
};
Dims dims_of(const Tensor& x) {
  if (x.ndim() != 4) return {1, 1, x.numel()};
  return {x.size(0), x.size(1), x.size(2) * x.size(3)};
}
}  // namespace

void mul_fwd(const Tensor& x, const Tensor& y, MulBroadcast mode, Tensor& out) {
  with_float_type(x.dtype(), "mul", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    Dims d = dims_of(x);
    if (mode == MulBroadcast::kNone) {
      parallel_for(x.numel(), 1 << 15, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) po[i] = px[i] * py[i];
      });
    } else if (mode == MulBroadcast::kChannel) {
      parallel_for(d.n * d.c, 1, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p)
          for (int64_t i = p * d.hw; i < (p + 1) * d.hw; ++i) po[i] = px[i] * py[p];
      });
    } else {
      parallel_for(d.n * d.c, 1, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          const T* gate = py + (p / d.c) * d.hw;
          for (int64_t s = 0; s < d.hw; ++s) po[p * d.hw + s] = px[p * d.hw + s] * gate[s];
        }
      });
    }
  });
}

void mul_bwd(const Tensor& x, const Tensor& y, MulBroadcast mode, const Tensor& grad_out, Tensor* grad_x,
             Tensor* grad_y) {
  with_float_type(x.dtype(), "mul", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pg = grad_out.data<T>();
    Dims d = dims_of(x);
    if (grad_x) {
      // Same pattern as the forward, with grad_out in place of x.
      mul_fwd(grad_out, y, mode, *grad_x);
    }
    if (!grad_y) return;
    T* pgy = grad_y->data<T>();
    if (mode == MulBroadcast::kNone) {
      mul_fwd(grad_out, x, MulBroadcast::kNone, *grad_y);
    } else if (mode == MulBroadcast::kChannel) {
      parallel_for(d.n * d.c, 1, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          const T* g = pg + p * d.hw;
          const T* xp = px + p * d.hw;
          pgy[p] = static_cast<T>(lane_sum(d.hw, [g, xp](int64_t i) { return static_cast<double>(g[i]) * xp[i]; }));
        }
      });
    } else {
      parallel_for(d.n * d.hw, 1024, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          int64_t n = q / d.hw, s = q % d.hw;
          double acc = 0.0;
          for (int64_t c = 0; c < d.c; ++c) {
            int64_t i = (n * d.c + c) * d.hw + s;
            acc += static_cast<double>(pg[i]) * px[i];
          }
          pgy[q] = static_cast<T>(acc);
        }
      });
    }
  });
}

}  // namespace pleura::cpu
