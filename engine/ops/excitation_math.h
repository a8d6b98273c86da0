// The arithmetic of the excitation op (engine/ops/excitation.h), compiled into both cpu/excitation.cpp and
// cuda/excitation.cu: sums in double, index increasing, every product and sum rounded once (exact.h's
// _rn operations, which nvcc cannot contract into FMAs), so that both backends give the same bits; only
// exp may differ in its last bit between the C library and CUDA's.
#pragma once

#include <math.h>

#include <cstdint>

#include "engine/ops/exact_math.h"

namespace pleura::excitation_math {

// acc + sum_k a[k * a_stride] * b[k * b_stride], k = 0 .. n-1.
template <class A, class B>
PLEURA_HOST_DEVICE inline double dot(const A* a, int64_t a_stride, const B* b, int64_t b_stride, int64_t n,
                                     double acc) {
  for (int64_t k = 0; k < n; ++k)
    acc = exact::add_rn(acc, exact::mul_rn(static_cast<double>(a[k * a_stride]), static_cast<double>(b[k * b_stride])));
  return acc;
}

// ReLU that keeps NaN (a NaN loss then reaches the step ledger, which skips the step).
PLEURA_HOST_DEVICE inline double relu(double z) { return z > 0.0 || z != z ? z : 0.0; }

// The logistic function, exp only of -|z| (cpu/stable_sigmoid.h's branches).
PLEURA_HOST_DEVICE inline double sigmoid(double z) {
  if (z >= 0.0) return 1.0 / (1.0 + ::exp(-z));
  const double e = ::exp(z);
  return e / (1.0 + e);
}

// d gate / d z times the gate's gradient, from the saved gate g: grad * g * (1 - g).
PLEURA_HOST_DEVICE inline double sigmoid_grad(double grad, double g) {
  return exact::mul_rn(exact::mul_rn(grad, g), 1.0 - g);
}

// sum_k a[k * stride], k = 0 .. n-1.
PLEURA_HOST_DEVICE inline double sum(const double* a, int64_t stride, int64_t n) {
  double acc = 0.0;
  for (int64_t k = 0; k < n; ++k) acc = exact::add_rn(acc, a[k * stride]);
  return acc;
}

// Each element of the op, as both backends compute it. Layouts: pooled p [N, C], w1 [R, C], b1 [R],
// w2 [C, R], b2 [C], hidden h [N, R], gate g [N, C]; d2 [N, C] and d1 [N, R] the gradients of the two
// pre-activations (fc2's output, fc1's output), in double.
template <class T>
PLEURA_HOST_DEVICE inline T hidden(const T* p, const T* w1, const T* b1, int64_t C, int64_t n, int64_t j) {
  return static_cast<T>(relu(exact::add_rn(dot(w1 + j * C, 1, p + n * C, 1, C, 0.0), static_cast<double>(b1[j]))));
}
template <class T>
PLEURA_HOST_DEVICE inline T gate(const T* h, const T* w2, const T* b2, int64_t R, int64_t n, int64_t c) {
  return static_cast<T>(sigmoid(exact::add_rn(dot(w2 + c * R, 1, h + n * R, 1, R, 0.0), static_cast<double>(b2[c]))));
}
template <class T>
PLEURA_HOST_DEVICE inline double d1(const double* d2, const T* w2, const T* h, int64_t C, int64_t R, int64_t n,
                                    int64_t j) {
  return h[n * R + j] > T(0) ? dot(w2 + j, R, d2 + n * C, 1, C, 0.0) : 0.0;
}
template <class T>
PLEURA_HOST_DEVICE inline T grad_w2(const double* d2, const T* h, int64_t N, int64_t C, int64_t R, int64_t c, int64_t j) {
  return static_cast<T>(dot(d2 + c, C, h + j, R, N, 0.0));
}
template <class T>
PLEURA_HOST_DEVICE inline T grad_w1(const double* d1, const T* p, int64_t N, int64_t C, int64_t R, int64_t j, int64_t c) {
  return static_cast<T>(dot(d1 + j, R, p + c, C, N, 0.0));
}
template <class T>
PLEURA_HOST_DEVICE inline T grad_pooled(const double* d1, const T* w1, int64_t C, int64_t R, int64_t n, int64_t c) {
  return static_cast<T>(dot(w1 + c, C, d1 + n * R, 1, R, 0.0));
}

}  // namespace pleura::excitation_math
