// CPU kernels of excitation (engine/ops/excitation.h); twin: cuda/excitation.cu. Every element is
// excitation_math's, shared with the CUDA kernels. The tensors are small ([N, C] and [C, R] matrices):
// plain loops, one thread.
#include <vector>

#include "cpu/float_types.h"
#include "engine/ops/excitation.h"
#include "engine/ops/excitation_math.h"

namespace pleura::cpu {

namespace em = excitation_math;

void excitation_fwd(const Tensor& pooled, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2,
                    Tensor& hidden, Tensor& gate) {
  const int64_t N = pooled.size(0), C = pooled.size(1), R = w1.size(0);
  with_float_type(pooled.dtype(), "excitation", [&](auto tag) {
    using T = decltype(tag);
    const T *p = pooled.data<T>(), *pw1 = w1.data<T>(), *pb1 = b1.data<T>(), *pw2 = w2.data<T>(), *pb2 = b2.data<T>();
    T *h = hidden.data<T>(), *g = gate.data<T>();
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t j = 0; j < R; ++j) h[n * R + j] = em::hidden(p, pw1, pb1, C, n, j);
      for (int64_t c = 0; c < C; ++c) g[n * C + c] = em::gate(h, pw2, pb2, R, n, c);
    }
  });
}

void excitation_bwd(const Tensor& pooled, const Tensor& w1, const Tensor& w2, const Tensor& hidden,
                    const Tensor& gate, const Tensor& grad_gate, Tensor* grad_pooled, Tensor* grad_w1, Tensor* grad_b1,
                    Tensor* grad_w2, Tensor* grad_b2) {
  const int64_t N = pooled.size(0), C = pooled.size(1), R = w1.size(0);
  with_float_type(pooled.dtype(), "excitation", [&](auto tag) {
    using T = decltype(tag);
    const T *p = pooled.data<T>(), *pw1 = w1.data<T>(), *pw2 = w2.data<T>(), *h = hidden.data<T>();
    const T *g = gate.data<T>(), *gg = grad_gate.data<T>();
    std::vector<double> d2(static_cast<size_t>(N * C)), d1(static_cast<size_t>(N * R));
    for (int64_t i = 0; i < N * C; ++i) d2[i] = em::sigmoid_grad(gg[i], g[i]);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < R; ++j) d1[n * R + j] = em::d1(d2.data(), pw2, h, C, R, n, j);
    if (grad_b2)
      for (int64_t c = 0; c < C; ++c) grad_b2->data<T>()[c] = static_cast<T>(em::sum(d2.data() + c, C, N));
    if (grad_w2)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < R; ++j) grad_w2->data<T>()[c * R + j] = em::grad_w2(d2.data(), h, N, C, R, c, j);
    if (grad_b1)
      for (int64_t j = 0; j < R; ++j) grad_b1->data<T>()[j] = static_cast<T>(em::sum(d1.data() + j, R, N));
    if (grad_w1)
      for (int64_t j = 0; j < R; ++j)
        for (int64_t c = 0; c < C; ++c) grad_w1->data<T>()[j * C + c] = em::grad_w1(d1.data(), p, N, C, R, j, c);
    if (grad_pooled)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) grad_pooled->data<T>()[n * C + c] = em::grad_pooled(d1.data(), pw1, C, R, n, c);
  });
}

}  // namespace pleura::cpu
