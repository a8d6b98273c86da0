// sum and mean entry points; both are a scaled sum, with a backward that broadcasts the scale.
#include "engine/ops/reduce.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {

class SumBackward : public Node {
 public:
  SumBackward(Shape shape, double scale, const char* name) : shape_(shape), scale_(scale), name_(name) {}
  std::vector<Tensor> apply(const Tensor& grad_out) override {
    Tensor grad_x = Tensor::empty(shape_, grad_out.dtype(), grad_out.device());
    PLEURA_DISPATCH(grad_out.device(), name_, sum_bwd(grad_out, scale_, grad_x));
    return {grad_x};
  }
  void release_saved() override {}
  const char* name() const override { return name_; }

 private:
  Shape shape_;
  double scale_;
  const char* name_;
};

Tensor scaled_sum(const Tensor& x, bool average, const char* op) {
  const OpScope op_scope(op);  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float(x, op, "input");
  PLEURA_CHECK(x.numel() > 0, "[", op, "] input ", describe(x), " has no elements");
  double scale = average ? 1.0 / static_cast<double>(x.numel()) : 1.0;
  Tensor out = Tensor::empty(Shape{}, x.dtype(), x.device());
  PLEURA_DISPATCH(x.device(), op, sum_fwd(x, scale, out));
  record(out, {&x}, [&] { return std::make_shared<SumBackward>(x.shape(), scale, op); });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x) { return scaled_sum(x, false, "sum"); }
Tensor mean(const Tensor& x) { return scaled_sum(x, true, "mean"); }

}  // namespace pleura
