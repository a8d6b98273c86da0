// maximum entry point: checks, dispatch, backward node (saves both inputs: ties need them).
#include "engine/ops/maximum.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {
class MaximumBackward : public Node {
 public:
  MaximumBackward(Tensor a, Tensor b) : a_(std::move(a)), b_(std::move(b)) {}
  std::vector<Tensor> apply(const Tensor& grad_out) override {
    Tensor grad_a, grad_b;
    if (needs_grad(0)) grad_a = Tensor::empty_like(a_);
    if (needs_grad(1)) grad_b = Tensor::empty_like(b_);
    PLEURA_DISPATCH(
        a_.device(), "maximum",
        maximum_bwd(a_, b_, grad_out, grad_a.defined() ? &grad_a : nullptr, grad_b.defined() ? &grad_b : nullptr));
    return {grad_a, grad_b};
  }
  void release_saved() override {
    a_ = Tensor();
    b_ = Tensor();
  }
  const char* name() const override { return "maximum"; }

 private:
  Tensor a_, b_;
};
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("maximum");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float(a, "maximum", "a");
  check_float(b, "maximum", "b");
  check_same_place(b, a, "maximum", "b", "a");
  check_same_shape(b, a, "maximum", "b", "a");
  Tensor out = Tensor::empty_like(a);
  PLEURA_DISPATCH(a.device(), "maximum", maximum_fwd(a, b, out));
  record(out, {&a, &b}, [&] { return std::make_shared<MaximumBackward>(a.detach(), b.detach()); });
  return out;
}

}  // namespace pleura
