// relu entry point: checks, dispatch, backward node (saves the output, not the input); in place on a
// temporary that nothing records.
#include "engine/ops/relu.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {
class ReluBackward : public Node {
 public:
  explicit ReluBackward(Tensor y) : y_(std::move(y)) {}
  std::vector<Tensor> apply(const Tensor& grad_y) override {
    Tensor grad_x = Tensor::empty_like(y_);
    PLEURA_DISPATCH(y_.device(), "relu", relu_bwd(y_, grad_y, grad_x));
    return {grad_x};
  }
  void release_saved() override { y_ = Tensor(); }
  const char* name() const override { return "relu"; }

 private:
  Tensor y_;
};
}  // namespace

Tensor relu(const Tensor& x) {
  const OpScope op_scope("relu");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float(x, "relu", "input");
  Tensor y = Tensor::empty_like(x);
  PLEURA_DISPATCH(x.device(), "relu", relu_fwd(x, y));
  record(y, {&x}, [&] { return std::make_shared<ReluBackward>(y.detach()); });
  return y;
}

Tensor relu(Tensor&& x) {
  if (!can_overwrite(x)) return relu(static_cast<const Tensor&>(x));
  const OpScope op_scope("relu");
  check_float(x, "relu", "input");
  PLEURA_DISPATCH(x.device(), "relu", relu_fwd(x, x));
  return std::move(x);
}

}  // namespace pleura
