// upsample2x and upsample2x_of_concat entry points: checks, dispatch, backward nodes (save only the input
// shapes, channel offsets and the mode).
#include "engine/ops/upsample.h"

#include "engine/autograd.h"
#include "engine/ops/concat.h"
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

// The gradient of each input is the adjoint upsample of its channel range of grad_y.
class Upsample2xOfConcatBackward : public Node {
 public:
  Upsample2xOfConcatBackward(std::vector<Shape> shapes, std::vector<int64_t> offsets, UpsampleMode mode)
      : shapes_(std::move(shapes)), offsets_(std::move(offsets)), mode_(mode) {}
  std::vector<Tensor> apply(const Tensor& grad_y) override {
    std::vector<Tensor> grads(shapes_.size());
    for (size_t k = 0; k < shapes_.size(); ++k) {
      if (!needs_grad(k)) continue;
      grads[k] = Tensor::empty(shapes_[k], grad_y.dtype(), grad_y.device());
      if (grads[k].numel() > 0)
        PLEURA_DISPATCH(grad_y.device(), "upsample2x_of_concat", upsample2x_bwd(grad_y, mode_, grads[k], offsets_[k]));
    }
    return grads;
  }
  void release_saved() override {}
  const char* name() const override { return "upsample2x_of_concat"; }

 private:
  std::vector<Shape> shapes_;
  std::vector<int64_t> offsets_;
  UpsampleMode mode_;
};

void check_mode(UpsampleMode mode, const char* op) {
  PLEURA_CHECK(mode == UpsampleMode::kNearest || mode == UpsampleMode::kBilinear, "[", op, "] unknown mode ",
               static_cast<int>(mode), ", expected kNearest or kBilinear");
}

}  // namespace

Tensor upsample2x(const Tensor& x, UpsampleMode mode) {
  const OpScope op_scope("upsample2x");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float_nd(x, 4, "upsample2x", "input");
  check_mode(mode, "upsample2x");
  Tensor y = Tensor::empty({x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)}, x.dtype(), x.device());
  if (y.numel() > 0) PLEURA_DISPATCH(x.device(), "upsample2x", upsample2x_fwd(x, mode, y));
  record(y, {&x}, [&] { return std::make_shared<Upsample2xBackward>(x.shape(), mode); });
  return y;
}

Tensor upsample2x_of_concat(const std::vector<Tensor>& xs, UpsampleMode mode) {
  const OpScope op_scope("upsample2x_of_concat");
  ConcatLayout layout = concat_layout(xs, "upsample2x_of_concat");
  check_mode(mode, "upsample2x_of_concat");
  const Tensor& x0 = xs[0];
  Tensor y = Tensor::empty({x0.size(0), layout.channels, 2 * x0.size(2), 2 * x0.size(3)}, x0.dtype(), x0.device());
  for (size_t k = 0; k < xs.size(); ++k)
    if (xs[k].numel() > 0)
      PLEURA_DISPATCH(x0.device(), "upsample2x_of_concat", upsample2x_fwd(xs[k], mode, y, layout.offsets[k]));
  record(y, layout.inputs, [&] {
    return std::make_shared<Upsample2xOfConcatBackward>(std::move(layout.shapes), std::move(layout.offsets), mode);
  });
  return y;
}

}  // namespace pleura
