// conv2d_relu entry point (engine/ops/conv2d_relu.h): the convolution's checks, the residual's, then the fused
// kernels when nothing is recorded, else conv2d, add and relu composed (their nodes give the gradients).
#include "engine/ops/conv2d_relu.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"
#include "engine/ops/add.h"
#include "engine/ops/relu.h"
#include "engine/precision.h"

namespace pleura {

bool conv2d_relu_fuses(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual) {
  const bool bf16 = precision() == Precision::kBFloat16 && x.dtype() == DType::kFloat32;
  return !bf16 && !needs_recording({&x, &weight, &bias, &residual});
}

Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p,
                   const Tensor& residual) {
  const OpScope op_scope("conv2d_relu");  // names the op in out-of-memory messages (engine/alloc_context.h)
  const Shape y_shape = conv2d_output_shape(x, weight, bias, p);
  if (residual.defined()) {
    check_float(residual, "conv2d_relu", "residual");
    check_same_place(residual, x, "conv2d_relu", "residual", "input");
    PLEURA_CHECK(residual.shape() == y_shape, "[conv2d_relu] residual has shape ", residual.shape().str(),
                 ", expected the convolution's output shape ", y_shape.str());
  }
  if (!conv2d_relu_fuses(x, weight, bias, residual)) {
    Tensor y = conv2d(x, weight, bias, p);
    return relu(residual.defined() ? add(std::move(y), residual) : std::move(y));
  }
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  PLEURA_DISPATCH(x.device(), "conv2d_relu", conv2d_relu_fwd(x, weight, bias, p, residual, y));
  return y;
}

}  // namespace pleura
