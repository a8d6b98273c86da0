// CPU kernel of conv2d_relu (engine/ops/conv2d_relu.h); twin: cuda/conv2d_relu.cu; tests:
// tests/ops/test_conv2d_relu.cpp. Where conv2d runs on oneDNN, the sum and the ReLU are applied to each row
// band as soon as it is written (cpu/conv2d_onednn.cpp), while it is in the cache; elsewhere (im2col,
// grouped, Winograd, float64) after the convolution, in one parallel pass over y instead of an add pass and
// a ReLU pass.
#include "engine/ops/conv2d_relu.h"

#include "cpu/conv2d_onednn.h"
#include "engine/parallel.h"

namespace pleura::cpu {

void add_relu_inplace(float* y, const float* residual, int64_t count) {
  // The expressions of cpu/add.cpp and cpu/relu.cpp (NaN passes through the ReLU, as in PyTorch).
  if (residual != nullptr) {
    for (int64_t i = 0; i < count; ++i) {
      const float v = y[i] + residual[i];
      y[i] = v < 0.0f ? 0.0f : v;
    }
  } else {
    for (int64_t i = 0; i < count; ++i) y[i] = y[i] < 0.0f ? 0.0f : y[i];
  }
}

namespace {
template <class T>
void add_relu_pass(Tensor& y, const Tensor& residual) {
  T* py = y.data<T>();
  const T* pr = residual.defined() ? residual.data<T>() : nullptr;
  parallel_for(y.numel(), 1 << 15, [=](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const T v = pr != nullptr ? py[i] + pr[i] : py[i];
      py[i] = v < T(0) ? T(0) : v;
    }
  });
}
}  // namespace

void conv2d_relu_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                     const Tensor& residual, Tensor& y) {
  if (onednn_applies(x, w, p)) {
    const ConvEpilogue epilogue{.relu = true, .residual = residual.defined() ? residual.data<float>() : nullptr};
    return conv2d_onednn_fwd(x, w, bias, p, y, epilogue);
  }
  conv2d_fwd(x, w, bias, p, y);
  if (y.dtype() == DType::kFloat64)
    add_relu_pass<double>(y, residual);
  else
    add_relu_pass<float>(y, residual);
}

}  // namespace pleura::cpu
