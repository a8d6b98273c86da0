// CPU kernels of global_avg_pool (engine/ops/global_avg_pool.h); twin: cuda/global_avg_pool.cu; tests:
// tests/ops/test_global_avg_pool.cpp.
#include "engine/ops/global_avg_pool.h"

#include <algorithm>

#include "cpu/float_types.h"
#include "cpu/reduce.h"
#include "engine/parallel.h"

namespace pleura::cpu {

void global_avg_pool_fwd(const Tensor& x, Tensor& y) {
  int64_t planes = x.size(0) * x.size(1), hw = x.size(2) * x.size(3);
  with_float_type(x.dtype(), "global_avg_pool", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    // One plane per task, summed in double in lanes (cpu/reduce.h's LaneSum; one chain of dependent adds per
    // plane made the SE blocks' pools latency-bound): the order depends on the shape alone.
    int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / hw);
    parallel_for(planes, grain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const T* plane = px + p * hw;
        const double s = lane_sum(hw, [plane](int64_t i) { return plane[i]; });
        py[p] = static_cast<T>(s / static_cast<double>(hw));
      }
    });
  });
}

void global_avg_pool_bwd(const Tensor& grad_y, Tensor& grad_x) {
  int64_t planes = grad_x.size(0) * grad_x.size(1), hw = grad_x.size(2) * grad_x.size(3);
  with_float_type(grad_y.dtype(), "global_avg_pool", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = grad_y.data<T>();
    T* pgx = grad_x.data<T>();
    int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / hw);
    parallel_for(planes, grain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        // Divided in T, as the CUDA kernel does in float, so both round the same way.
        T g = pg[p] / static_cast<T>(hw);
        T* plane = pgx + p * hw;
        for (int64_t i = 0; i < hw; ++i) plane[i] = g;
      }
    });
  });
}

}  // namespace pleura::cpu
