// add entry point: checks, dispatch, and the backward node (the gradient passes through to both).
#include "engine/ops/add.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {
class AddBackward : public Node {
 public:
  std::vector<Tensor> apply(const Tensor& grad_out) override { return {grad_out, grad_out}; }
  void release_saved() override {}
  const char* name() const override { return "add"; }
};

void check_add(const Tensor& a, const Tensor& b) {
  check_float(a, "add", "a");
  check_float(b, "add", "b");
  check_same_place(b, a, "add", "b", "a");
  check_same_shape(b, a, "add", "b", "a");
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("add");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_add(a, b);
  Tensor out = Tensor::empty_like(a);
  PLEURA_DISPATCH(a.device(), "add", add_fwd(a, b, out));
  record(out, {&a, &b}, [] { return std::make_shared<AddBackward>(); });
  return out;
}

Tensor add(Tensor&& a, const Tensor& b) {
  // b's gradient needs the recorded op too: a temporary a that needs none is not enough.
  if (!can_overwrite(a) || needs_recording({&b})) return add(static_cast<const Tensor&>(a), b);
  const OpScope op_scope("add");
  check_add(a, b);
  PLEURA_DISPATCH(a.device(), "add", add_fwd(a, b, a));
  a.impl().bf16_values = false;  // the values are those of another op now (engine/tensor.h)
  return std::move(a);
}

}  // namespace pleura
