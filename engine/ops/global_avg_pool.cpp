// global_avg_pool entry point: checks, dispatch, backward node (saves only the input shape).
#include "engine/ops/global_avg_pool.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {
class GlobalAvgPoolBackward : public Node {
 public:
  explicit GlobalAvgPoolBackward(Shape x_shape) : x_shape_(x_shape) {}
  std::vector<Tensor> apply(const Tensor& grad_y) override {
    Tensor grad_x = Tensor::empty(x_shape_, grad_y.dtype(), grad_y.device());
    PLEURA_DISPATCH(grad_y.device(), "global_avg_pool", global_avg_pool_bwd(grad_y, grad_x));
    return {grad_x};
  }
  void release_saved() override {}
  const char* name() const override { return "global_avg_pool"; }

 private:
  Shape x_shape_;
};
}  // namespace

Tensor global_avg_pool(const Tensor& x) {
  const OpScope op_scope("global_avg_pool");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float_nd(x, 4, "global_avg_pool", "input");
  PLEURA_CHECK(x.size(2) > 0 && x.size(3) > 0, "[global_avg_pool] input has an empty plane (H = ", x.size(2),
               ", W = ", x.size(3), "), expected H, W > 0 (input ", describe(x), ")");
  Tensor y = Tensor::empty(Shape{x.size(0), x.size(1), 1, 1}, x.dtype(), x.device());
  PLEURA_DISPATCH(x.device(), "global_avg_pool", global_avg_pool_fwd(x, y));
  record(y, {&x}, [&] { return std::make_shared<GlobalAvgPoolBackward>(x.shape()); });
  return y;
}

}  // namespace pleura
