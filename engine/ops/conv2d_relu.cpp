// conv2d_relu entry point (engine/ops/conv2d_relu.h): the convolution's checks, the residual's, the fused kernels,
// and one backward node: the ReLU's backward on the saved output, then the convolution's (what the nodes of
// conv2d, add and relu would do, in the same order: the same bits). In bf16 on the CPU it is those three ops
// composed; the CUDA kernels fuse it in bf16 too (the convolution's rounded output, then the sum and the ReLU).
#include "engine/ops/conv2d_relu.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"
#include "engine/ops/add.h"
#include "engine/ops/relu.h"
#include "engine/precision.h"
#include "engine/saved_activation.h"

namespace pleura {

namespace {

// Inputs x, weight, bias, residual. The convolution's output before the ReLU is never kept: the ReLU's
// gradient needs only its output y, the convolution's only x and the weight (both kept as bfloat16 under the
// bf16 policy: engine/saved_activation.h).
class Conv2dReluBackward : public Node {
 public:
  Conv2dReluBackward(const Tensor& x, Tensor w, const Tensor& y, bool has_bias, const Conv2dParams& p, bool bf16)
      : saved_x_(x, SavedUse::kConvolutionInput, bf16), w_(std::move(w)), saved_y_(y, SavedUse::kSign, bf16),
        has_bias_(has_bias), p_(p), bf16_(bf16) {}

  std::vector<Tensor> apply(const Tensor& grad_y) override {
    const Tensor y = saved_y_.kept();  // the kernels read a bfloat16 copy as it is
    Tensor grad_z = Tensor::empty_like(grad_y);  // the gradient at the convolution's output (and the residual)
    PLEURA_DISPATCH(y.device(), "conv2d_relu", relu_bwd(y, grad_y, grad_z));
    // CUDA's kernels take the kept bfloat16 copy itself (engine/ops/conv2d.h); the CPU's, float32.
    const Tensor x = saved_x_.device().is_cuda() ? saved_x_.kept() : saved_x_.get();
    Tensor grad_x, grad_w, grad_b;
    if (needs_grad(0)) grad_x = Tensor::empty(x.shape(), w_.dtype(), x.device());  // x may be bfloat16
    if (needs_grad(1)) grad_w = Tensor::empty_like(w_);
    if (has_bias_ && needs_grad(2)) grad_b = Tensor::empty(Shape{w_.size(0)}, w_.dtype(), w_.device());
    if (grad_x.defined() || grad_w.defined() || grad_b.defined()) {
      // The forward's policy (bf16 fuses on CUDA only, whose kernels round for themselves: conv2d.h).
      const PrecisionScope policy(bf16_ ? Precision::kBFloat16 : Precision::kFloat32);
      PLEURA_DISPATCH(x.device(), "conv2d_relu",
                      conv2d_bwd(x, w_, grad_z, p_, grad_x.defined() ? &grad_x : nullptr,
                                 grad_w.defined() ? &grad_w : nullptr, grad_b.defined() ? &grad_b : nullptr));
    }
    return {grad_x, grad_w, grad_b, needs_grad(3) ? grad_z : Tensor()};
  }
  void release_saved() override {
    saved_x_.reset();
    w_ = Tensor();
    saved_y_.reset();
  }
  const char* name() const override { return "conv2d_relu"; }

 private:
  SavedActivation saved_x_;
  Tensor w_;
  SavedActivation saved_y_;
  bool has_bias_;
  Conv2dParams p_;
  bool bf16_;
};

}  // namespace

namespace {
bool bf16_policy(const Tensor& x) { return precision() == Precision::kBFloat16 && x.dtype() == DType::kFloat32; }
}  // namespace

bool conv2d_relu_fuses(const Tensor& x) { return !bf16_policy(x) || x.device().is_cuda(); }

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
  if (!conv2d_relu_fuses(x)) {
    Tensor y = conv2d(x, weight, bias, p);
    return relu(residual.defined() ? add(std::move(y), residual) : std::move(y));
  }
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  PLEURA_DISPATCH(x.device(), "conv2d_relu", conv2d_relu_fwd(x.detach(), weight.detach(), bias, p, residual, y));
  // Under bf16 the convolution's output is a bfloat16 value, and so is its ReLU (not a sum with a residual).
  y.impl().bf16_values = bf16_policy(x) && !residual.defined();
  record(y, {&x, &weight, &bias, &residual}, [&] {
    return std::make_shared<Conv2dReluBackward>(x, weight.detach(), y, bias.defined(), p, bf16_policy(x));
  });
  return y;
}

}  // namespace pleura
