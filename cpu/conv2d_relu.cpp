// CPU kernel of conv2d_relu (engine/ops/conv2d_relu.h); twin: cuda/conv2d_relu.cu; tests:
// tests/ops/test_conv2d_relu.cpp. Where conv2d runs on oneDNN, the sum and the ReLU are applied to each row
// band as soon as it is written (cpu/conv2d_onednn.cpp), while it is in the cache, and on the Winograd
// F(4x4,3x3) inference kernels to each output tile (cpu/conv2d_winograd_f4.cpp), on im2col + GEMM (float32 and
// float64) to each product tile (cpu/conv2d.cpp); elsewhere (grouped, Winograd F(2x2,3x3)) after the
// convolution, in one parallel pass over y instead of an add pass and a ReLU pass.
#include "engine/ops/conv2d_relu.h"

#include "cpu/conv2d_onednn.h"
#include "cpu/conv2d_winograd_f4.h"
#include "engine/parallel.h"

namespace pleura::cpu {

namespace {

// y = relu(y + residual) over [0, count) (residual null: relu(y)), the expressions of cpu/add.cpp and
// cpu/relu.cpp (NaN passes through the ReLU, as in PyTorch).
template <class T>
void add_relu_range(T* y, const T* residual, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const T v = residual != nullptr ? y[i] + residual[i] : y[i];
    y[i] = v < T(0) ? T(0) : v;
  }
}

template <class T>
void add_relu_pass(Tensor& y, const Tensor& residual) {
  T* py = y.data<T>();
  const T* pr = residual.defined() ? residual.data<T>() : nullptr;
  parallel_for(y.numel(), 1 << 15, [=](int64_t i0, int64_t i1) {
    add_relu_range(py + i0, pr != nullptr ? pr + i0 : nullptr, i1 - i0);
  });
}

}  // namespace

void add_relu_inplace(float* y, const float* residual, int64_t count) { add_relu_range(y, residual, count); }

void conv2d_relu_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                     const Tensor& residual, Tensor& y) {
  const ConvForwardPath path = conv2d_forward_path(x, w, p);
  if (path == ConvForwardPath::kWinogradF4 || path == ConvForwardPath::kOneDnn) {  // float32 only
    const ConvEpilogue epilogue{.relu = true, .residual = residual.defined() ? residual.data<float>() : nullptr};
    if (path == ConvForwardPath::kWinogradF4) return conv2d_winograd_f4_fwd(x, w, bias, p, y, epilogue);
    return conv2d_onednn_fwd(x, w, bias, p, y, epilogue);
  }
  if (path == ConvForwardPath::kIm2col) return conv2d_im2col_relu_fwd(x, w, bias, p, residual, y);
  conv2d_fwd(x, w, bias, p, y);
  if (y.dtype() == DType::kFloat64)
    add_relu_pass<double>(y, residual);
  else
    add_relu_pass<float>(y, residual);
}

}  // namespace pleura::cpu
