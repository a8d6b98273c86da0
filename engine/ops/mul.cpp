// mul entry point: deduces the broadcast from the shapes, checks, dispatches, records the backward.
#include "engine/ops/mul.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {

MulBroadcast deduce(const Tensor& x, const Tensor& y) {
  if (x.shape() == y.shape()) return MulBroadcast::kNone;
  if (x.ndim() == 4 && y.ndim() == 4 && y.size(0) == x.size(0)) {
    if (y.size(1) == x.size(1) && y.size(2) == 1 && y.size(3) == 1) return MulBroadcast::kChannel;
    if (y.size(1) == 1 && y.size(2) == x.size(2) && y.size(3) == x.size(3)) return MulBroadcast::kSpatial;
  }
  int64_t n = x.ndim() == 4 ? x.size(0) : 0, c = x.ndim() == 4 ? x.size(1) : 0;
  int64_t h = x.ndim() == 4 ? x.size(2) : 0, w = x.ndim() == 4 ? x.size(3) : 0;
  throw_error(cat("[mul] y has shape ", y.shape().str(), "; for x of shape ", x.shape().str(),
                  " expected the same shape, [", n, ", ", c, ", 1, 1] (channel gate) or [", n, ", 1, ", h, ", ",
                  w, "] (spatial gate)"));
}

class MulBackward : public Node {
 public:
  MulBackward(Tensor x, Tensor y, MulBroadcast mode) : x_(std::move(x)), y_(std::move(y)), mode_(mode) {}
  std::vector<Tensor> apply(const Tensor& grad_out) override {
    Tensor grad_x, grad_y;
    if (needs_grad(0)) grad_x = Tensor::empty_like(x_);
    if (needs_grad(1)) grad_y = Tensor::empty_like(y_);
    PLEURA_DISPATCH(x_.device(), "mul",
                    mul_bwd(x_, y_, mode_, grad_out, grad_x.defined() ? &grad_x : nullptr,
                            grad_y.defined() ? &grad_y : nullptr));
    return {grad_x, grad_y};
  }
  void release_saved() override {
    x_ = Tensor();
    y_ = Tensor();
  }
  const char* name() const override { return "mul"; }

 private:
  Tensor x_, y_;
  MulBroadcast mode_;
};

}  // namespace

Tensor mul(const Tensor& x, const Tensor& y) {
  const OpScope op_scope("mul");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float(x, "mul", "x");
  check_float(y, "mul", "y");
  check_same_place(y, x, "mul", "y", "x");
  MulBroadcast mode = deduce(x, y);
  Tensor out = Tensor::empty_like(x);
  PLEURA_DISPATCH(x.device(), "mul", mul_fwd(x, y, mode, out));
  record(out, {&x, &y}, [&] { return std::make_shared<MulBackward>(x.detach(), y.detach(), mode); });
  return out;
}

}  // namespace pleura
