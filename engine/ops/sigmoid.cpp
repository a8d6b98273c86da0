// sigmoid entry point: checks, dispatch, backward node (saves the output, not the input).
#include "engine/ops/sigmoid.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {
class SigmoidBackward : public Node {
 public:
  explicit SigmoidBackward(Tensor y) : y_(std::move(y)) {}
  std::vector<Tensor> apply(const Tensor& grad_y) override {
    Tensor grad_x = Tensor::empty_like(y_);
    PLEURA_DISPATCH(y_.device(), "sigmoid", sigmoid_bwd(y_, grad_y, grad_x));
    return {grad_x};
  }
  void release_saved() override { y_ = Tensor(); }
  const char* name() const override { return "sigmoid"; }

 private:
  Tensor y_;
};
}  // namespace

Tensor sigmoid(const Tensor& x) {
  const OpScope op_scope("sigmoid");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float(x, "sigmoid", "input");
  Tensor y = Tensor::empty_like(x);
  PLEURA_DISPATCH(x.device(), "sigmoid", sigmoid_fwd(x, y));
  record(y, {&x}, [&] { return std::make_shared<SigmoidBackward>(y.detach()); });
  return y;
}

}  // namespace pleura
