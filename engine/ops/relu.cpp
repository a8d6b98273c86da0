// relu entry point: checks, dispatch, backward node (saves the output, not the input, as bfloat16 under the
// bf16 policy: engine/saved_activation.h); in place on a temporary that nothing records.
#include "engine/ops/relu.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"
#include "engine/precision.h"
#include "engine/saved_activation.h"

namespace pleura {

namespace {
class ReluBackward : public Node {
 public:
  explicit ReluBackward(const Tensor& y)
      : saved_y_(y, SavedUse::kSign, precision() == Precision::kBFloat16) {}
  std::vector<Tensor> apply(const Tensor& grad_y) override {
    const Tensor y = saved_y_.kept();  // the kernels read a bfloat16 copy as it is
    Tensor grad_x = Tensor::empty_like(grad_y);
    PLEURA_DISPATCH(y.device(), "relu", relu_bwd(y, grad_y, grad_x));
    return {grad_x};
  }
  void release_saved() override { saved_y_.reset(); }
  const char* name() const override { return "relu"; }

 private:
  SavedActivation saved_y_;
};
}  // namespace

Tensor relu(const Tensor& x) {
  const OpScope op_scope("relu");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float(x, "relu", "input");
  Tensor y = Tensor::empty_like(x);
  PLEURA_DISPATCH(x.device(), "relu", relu_fwd(x, y));
  // max(v, 0) of a bfloat16 value is one (engine/tensor.h): nodes keeping y may keep a bfloat16 copy.
  y.impl().bf16_values = x.impl().bf16_values;
  record(y, {&x}, [&] { return std::make_shared<ReluBackward>(y); });
  return y;
}

Tensor relu(Tensor&& x) {
  if (!can_overwrite(x)) return relu(static_cast<const Tensor&>(x));
  const OpScope op_scope("relu");
  check_float(x, "relu", "input");
  PLEURA_DISPATCH(x.device(), "relu", relu_fwd(x, x));
  // bf16_values stays as it was: max(v, 0) of a bfloat16 value is one.
  return std::move(x);
}

}  // namespace pleura
