// upsample2x entry point: checks, dispatch, backward node (saves only the input shape and the mode).
#include "engine/ops/upsample.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {

class Upsample2xBackward : public Node {
 public:
  Upsample2xBackward(Shape x_shape, UpsampleMode mode) : x_shape_(x_shape), mode_(mode) {}
  std::vector<Tensor> apply(const Tensor& grad_y) override {
    Tensor grad_x = Tensor::empty(x_shape_, grad_y.dtype(), grad_y.device());
    PLEURA_DISPATCH(grad_y.device(), "upsample2x", upsample2x_bwd(grad_y, mode_, grad_x));
    return {grad_x};
  }
  void release_saved() override {}
  const char* name() const override { return "upsample2x"; }

 private:
  Shape x_shape_;
  UpsampleMode mode_;
};

}  // namespace

Tensor upsample2x(const Tensor& x, UpsampleMode mode) {
  const OpScope op_scope("upsample2x");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float_nd(x, 4, "upsample2x", "input");
  PLEURA_CHECK(mode == UpsampleMode::kNearest || mode == UpsampleMode::kBilinear, "[upsample2x] unknown mode ",
               static_cast<int>(mode), ", expected kNearest or kBilinear");
  Tensor y = Tensor::empty({x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)}, x.dtype(), x.device());
  if (y.numel() > 0) PLEURA_DISPATCH(x.device(), "upsample2x", upsample2x_fwd(x, mode, y));
  record(y, {&x}, [&] { return std::make_shared<Upsample2xBackward>(x.shape(), mode); });
  return y;
}

}  // namespace pleura
