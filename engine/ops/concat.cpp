// concat entry point: checks every input against the first, dispatch, backward node (saves only the
// input shapes and channel offsets).
#include "engine/ops/concat.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {

class ConcatBackward : public Node {
 public:
  ConcatBackward(std::vector<Shape> shapes, std::vector<int64_t> offsets)
      : shapes_(std::move(shapes)), offsets_(std::move(offsets)) {}
  std::vector<Tensor> apply(const Tensor& grad_out) override {
    std::vector<Tensor> grads(shapes_.size());
    for (size_t k = 0; k < shapes_.size(); ++k)
      if (needs_grad(k)) grads[k] = Tensor::empty(shapes_[k], grad_out.dtype(), grad_out.device());
    PLEURA_DISPATCH(grad_out.device(), "concat", concat_bwd(grad_out, offsets_, grads));
    return grads;
  }
  void release_saved() override {}
  const char* name() const override { return "concat"; }

 private:
  std::vector<Shape> shapes_;
  std::vector<int64_t> offsets_;
};

}  // namespace

ConcatLayout concat_layout(const std::vector<Tensor>& xs, const char* op) {
  PLEURA_CHECK(!xs.empty(), "[", op, "] got an empty list of inputs, expected at least one [N, C, H, W] tensor");
  const Tensor& x0 = xs[0];
  check_float_nd(x0, 4, op, "input 0");
  ConcatLayout layout;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    std::string arg = cat("input ", k);
    check_float_nd(x, 4, op, arg.c_str());
    check_same_place(x, x0, op, arg.c_str(), "input 0");
    PLEURA_CHECK(x.size(0) == x0.size(0) && x.size(2) == x0.size(2) && x.size(3) == x0.size(3), "[", op, "] ",
                 arg, " has N, H, W = ", x.size(0), ", ", x.size(2), ", ", x.size(3), ", expected ", x0.size(0),
                 ", ", x0.size(2), ", ", x0.size(3), " as input 0 (", arg, " ", describe(x), ", input 0 ",
                 describe(x0), ")");
    layout.shapes.push_back(x.shape());
    layout.offsets.push_back(layout.channels);
    layout.inputs.push_back(&x);
    layout.channels += x.size(1);
  }
  return layout;
}

Tensor concat(const std::vector<Tensor>& xs) {
  const OpScope op_scope("concat");  // names the op in out-of-memory messages (engine/alloc_context.h)
  ConcatLayout layout = concat_layout(xs, "concat");
  const Tensor& x0 = xs[0];
  Tensor out = Tensor::empty({x0.size(0), layout.channels, x0.size(2), x0.size(3)}, x0.dtype(), x0.device());
  if (out.numel() > 0) PLEURA_DISPATCH(x0.device(), "concat", concat_fwd(xs, out));
  record(out, layout.inputs,
         [&] { return std::make_shared<ConcatBackward>(std::move(layout.shapes), std::move(layout.offsets)); });
  return out;
}

}  // namespace pleura
