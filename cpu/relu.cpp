// CPU kernels of relu (engine/ops/relu.h); twin: cuda/relu.cu.
#include "engine/ops/relu.h"

#include "cpu/float_types.h"
#include "engine/ops/stored_value.h"
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

namespace {

// pgx = pg where the value of py is > 0, else 0. Y: float, double, or the bits of a bfloat16 output.
template <class T, class Y>
void masked_gradient(const Y* py, const T* pg, T* pgx, int64_t n) {
  parallel_for(n, 1 << 15, [=](int64_t i0, int64_t i1) {
    // Both loads unconditional, so the compiler makes a vector select, not a branch per element (ReLU masks
    // are close to random: the branchy loop was 4% of a ResNet50-UNet training step, most of it mispredicted).
    for (int64_t i = i0; i < i1; ++i) {
      const T g = pg[i];
      pgx[i] = stored_value(py[i]) > T(0) ? g : T(0);
    }
  });
}

}  // namespace

void relu_bwd(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  if (y.dtype() == DType::kBFloat16)
    return masked_gradient(static_cast<const uint16_t*>(y.raw()), grad_y.data<float>(), grad_x.data<float>(),
                           y.numel());
  with_float_type(y.dtype(), "relu", [&](auto tag) {
    using T = decltype(tag);
    masked_gradient(y.data<T>(), grad_y.data<T>(), grad_x.data<T>(), y.numel());
  });
}

}  // namespace pleura::cpu
