// excitation entry point (engine/ops/excitation.h): checks, dispatch, and the backward node, which saves the
// input, both weights and the forward's hidden units and gate, and asks the kernel only for the gradients
// some input needs.
#include "engine/ops/excitation.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {

constexpr const char* kOp = "excitation";

class ExcitationBackward : public Node {
 public:
  ExcitationBackward(Tensor pooled, Tensor w1, Tensor w2, Tensor hidden, Tensor gate, Shape b1_shape, Shape b2_shape)
      : pooled_(std::move(pooled)), w1_(std::move(w1)), w2_(std::move(w2)), hidden_(std::move(hidden)),
        gate_(std::move(gate)), b1_shape_(b1_shape), b2_shape_(b2_shape) {}

  std::vector<Tensor> apply(const Tensor& grad_gate) override {
    std::vector<Tensor> grads(5);
    const Shape shapes[5] = {pooled_.shape(), w1_.shape(), b1_shape_, w2_.shape(), b2_shape_};
    Tensor* wanted[5] = {};
    for (size_t k = 0; k < 5; ++k) {
      if (!needs_grad(k)) continue;
      grads[k] = Tensor::empty(shapes[k], grad_gate.dtype(), grad_gate.device());
      wanted[k] = &grads[k];
    }
    PLEURA_DISPATCH(grad_gate.device(), kOp,
                    excitation_bwd(pooled_, w1_, w2_, hidden_, gate_, grad_gate, wanted[0], wanted[1], wanted[2],
                                   wanted[3], wanted[4]));
    return grads;
  }
  void release_saved() override {
    pooled_ = Tensor();
    w1_ = Tensor();
    w2_ = Tensor();
    hidden_ = Tensor();
    gate_ = Tensor();
  }
  const char* name() const override { return kOp; }

 private:
  Tensor pooled_, w1_, w2_, hidden_, gate_;
  Shape b1_shape_, b2_shape_;
};

void check_shape(const Tensor& t, const Shape& expected, const char* arg, const std::string& why) {
  PLEURA_CHECK(t.shape() == expected, "[", kOp, "] ", arg, " has shape ", t.shape().str(), ", expected ",
               expected.str(), " (", why, ")");
}

}  // namespace

Tensor excitation(const Tensor& pooled, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2) {
  const OpScope op_scope(kOp);  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float_nd(pooled, 4, kOp, "pooled");
  check_float_nd(w1, 4, kOp, "w1");
  const Tensor* others[] = {&w1, &b1, &w2, &b2};
  const char* names[] = {"w1", "b1", "w2", "b2"};
  for (int k = 0; k < 4; ++k) {
    check_float(*others[k], kOp, names[k]);
    check_same_place(*others[k], pooled, kOp, names[k], "pooled");
  }
  const int64_t N = pooled.size(0), C = pooled.size(1), R = w1.size(0);
  PLEURA_CHECK(N >= 1 && C >= 1 && R >= 1, "[", kOp, "] pooled ", describe(pooled), " and w1 ", describe(w1),
               " leave no image, channel or hidden unit; expected N, C, R >= 1");
  check_shape(pooled, Shape{N, C, 1, 1}, "pooled", "one value per image and channel: global_avg_pool's output");
  check_shape(w1, Shape{R, C, 1, 1}, "w1", cat("a 1x1 convolution from the ", C, " channels of pooled"));
  check_shape(b1, Shape{R}, "b1", cat("one bias per output of w1 ", w1.shape().str()));
  check_shape(w2, Shape{C, R, 1, 1}, "w2", cat("a 1x1 convolution from w1's ", R, " outputs back to ", C, " channels"));
  check_shape(b2, Shape{C}, "b2", cat("one bias per output of w2 ", w2.shape().str()));

  Tensor hidden = Tensor::empty(Shape{N, R}, pooled.dtype(), pooled.device());
  Tensor gate = Tensor::empty(Shape{N, C, 1, 1}, pooled.dtype(), pooled.device());
  PLEURA_DISPATCH(pooled.device(), kOp, excitation_fwd(pooled, w1, b1, w2, b2, hidden, gate));
  record(gate, {&pooled, &w1, &b1, &w2, &b2}, [&] {
    return std::make_shared<ExcitationBackward>(pooled.detach(), w1.detach(), w2.detach(), hidden, gate.detach(),
                                                b1.shape(), b2.shape());
  });
  return gate;
}

}  // namespace pleura
