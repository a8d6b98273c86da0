// hflip entry point: checks, dispatch, backward node (nothing saved: the backward is another flip).
#include "engine/ops/flip.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {
class HflipBackward : public Node {
 public:
  std::vector<Tensor> apply(const Tensor& grad_y) override {
    Tensor grad_x = Tensor::empty_like(grad_y);
    if (grad_x.numel() > 0) PLEURA_DISPATCH(grad_y.device(), "hflip", hflip_fwd(grad_y, grad_x));
    return {grad_x};
  }
  void release_saved() override {}
  const char* name() const override { return "hflip"; }
};
}  // namespace

Tensor hflip(const Tensor& x) {
  const OpScope op_scope("hflip");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float_nd(x, 4, "hflip", "input");
  Tensor y = Tensor::empty_like(x);
  if (y.numel() > 0) PLEURA_DISPATCH(x.device(), "hflip", hflip_fwd(x, y));
  record(y, {&x}, [] { return std::make_shared<HflipBackward>(); });
  return y;
}

}  // namespace pleura
