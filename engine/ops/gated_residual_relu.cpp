// gated_residual_relu entry points (engine/ops/gated_residual_relu.h): checks, dispatch, the backward node
// (saves x, the gate and the output, the output as bfloat16 under the bf16 policy, engine/saved_activation.h,
// since only its sign is read; the sum before the ReLU is never stored).
#include "engine/ops/gated_residual_relu.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"
#include "engine/precision.h"
#include "engine/saved_activation.h"

namespace pleura {

namespace {

constexpr const char* kOp = "gated_residual_relu";

void check_inputs(const Tensor& x, const Tensor& gate, const Tensor& residual) {
  check_float_nd(x, 4, kOp, "x");
  check_float(gate, kOp, "gate");
  check_float(residual, kOp, "residual");
  check_same_place(gate, x, kOp, "gate", "x");
  check_same_place(residual, x, kOp, "residual", "x");
  check_same_shape(residual, x, kOp, "residual", "x");
  const Shape want{x.size(0), x.size(1), 1, 1};
  PLEURA_CHECK(gate.shape() == want, "[", kOp, "] gate has shape ", gate.shape().str(), "; for x of shape ",
               x.shape().str(), " expected ", want.str(), " (one factor per image and channel)");
}

class GatedResidualReluBackward : public Node {
 public:
  GatedResidualReluBackward(const Tensor& x, Tensor gate, const Tensor& y)
      : saved_x_(x, SavedUse::kValues, precision() == Precision::kBFloat16),
        gate_(std::move(gate)),
        saved_y_(y, SavedUse::kSign, precision() == Precision::kBFloat16) {}
  std::vector<Tensor> apply(const Tensor& grad_y) override {
    // The kernels read bfloat16 copies as they are (no widened temporaries).
    const Tensor x = saved_x_.kept(), y = saved_y_.kept();
    Tensor grad_x, grad_gate, grad_residual;
    if (needs_grad(0)) grad_x = Tensor::empty(x.shape(), grad_y.dtype(), x.device());
    if (needs_grad(1)) grad_gate = Tensor::empty_like(gate_);
    if (needs_grad(2)) grad_residual = Tensor::empty(x.shape(), grad_y.dtype(), x.device());
    auto ptr = [](Tensor& t) { return t.defined() ? &t : nullptr; };
    PLEURA_DISPATCH(x.device(), kOp,
                    gated_residual_relu_bwd(x, gate_, y, grad_y, ptr(grad_residual), ptr(grad_x), ptr(grad_gate)));
    return {grad_x, grad_gate, grad_residual};
  }
  void release_saved() override {
    saved_x_.reset();
    gate_ = Tensor();
    saved_y_.reset();
  }
  const char* name() const override { return kOp; }

 private:
  SavedActivation saved_x_;
  Tensor gate_;
  SavedActivation saved_y_;
};

}  // namespace

Tensor gated_residual_relu(const Tensor& x, const Tensor& gate, const Tensor& residual) {
  const OpScope op_scope(kOp);  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_inputs(x, gate, residual);
  Tensor y = Tensor::empty_like(x);
  PLEURA_DISPATCH(x.device(), kOp, gated_residual_relu_fwd(x, gate, residual, y));
  record(y, {&x, &gate, &residual}, [&] {
    return std::make_shared<GatedResidualReluBackward>(x, gate.detach(), y);
  });
  return y;
}

Tensor gated_residual_relu(Tensor&& x, const Tensor& gate, const Tensor& residual) {
  if (!can_overwrite(x) || needs_recording({&gate, &residual}))
    return gated_residual_relu(static_cast<const Tensor&>(x), gate, residual);
  const OpScope op_scope(kOp);
  check_inputs(x, gate, residual);
  PLEURA_DISPATCH(x.device(), kOp, gated_residual_relu_fwd(x, gate, residual, x));
  x.impl().bf16_values = false;  // the values are those of another op now (engine/tensor.h)
  return std::move(x);
}

}  // namespace pleura
