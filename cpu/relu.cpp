// CPU kernels of relu (engine/ops/relu.h); twin: cuda/relu.cu.
#include "engine/ops/relu.h"

#include "cpu/float_types.h"
#include "engine/parallel.h"

namespace pleura::cpu {

void relu_fwd(const Tensor& x, Tensor& y) {
  with_float_type(x.dtype(), "relu", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(x.numel(), 1 << 15, [&](int64_t i0, int64_t i1) {
      // Written so that NaN passes through, as in PyTorch.
      for (int64_t i = i0; i < i1; ++i) py[i] = px[i] < T(0) ? T(0) : px[i];
    });
  });
}

void relu_bwd(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  with_float_type(y.dtype(), "relu", [&](auto tag) {
    using T = decltype(tag);
    const T* py = y.data<T>();
    const T* pg = grad_y.data<T>();
    T* pgx = grad_x.data<T>();
    parallel_for(y.numel(), 1 << 15, [=](int64_t i0, int64_t i1) {
      // Both loads unconditional, so the compiler makes a vector select, not a branch per element (ReLU masks
      // are close to random: the branchy loop was 4% of a ResNet50-UNet training step, most of it mispredicted).
      for (int64_t i = i0; i < i1; ++i) {
        const T g = pg[i];
        pgx[i] = py[i] > T(0) ? g : T(0);
      }
    });
  });
}

}  // namespace pleura::cpu
