// scse_maxout entry point (engine/ops/scse.h): checks, dispatch, and the backward node, which saves x (a
// bfloat16 copy where the bf16 policy allows: engine/saved_activation.h), both gates' inputs and the spatial
// gate, and asks the kernel only for the gradients some input needs.
#include "engine/ops/scse.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"
#include "engine/precision.h"
#include "engine/saved_activation.h"

namespace pleura {

namespace {

class ScseMaxoutBackward : public Node {
 public:
  // x kept as a bfloat16 copy under the bf16 policy where its values are bfloat16 values (a decoder
  // convolution's ReLU output, whose copy the ReLU's mask and the next convolution share): engine/
  // saved_activation.h.
  ScseMaxoutBackward(const Tensor& x, Tensor channel_gate, Tensor spatial_weight, Tensor spatial_gate)
      : saved_x_(x, SavedUse::kValues, precision() == Precision::kBFloat16),
        cg_(std::move(channel_gate)),
        w_(std::move(spatial_weight)),
        sg_(std::move(spatial_gate)) {}

  std::vector<Tensor> apply(const Tensor& grad_out) override {
    const Tensor x = saved_x_.get();
    Tensor grad_x, grad_cg, grad_w;
    if (needs_grad(0)) grad_x = Tensor::empty_like(x);
    if (needs_grad(1)) grad_cg = Tensor::empty_like(cg_);
    if (needs_grad(2)) grad_w = Tensor::empty_like(w_);
    if (grad_x.defined() || grad_cg.defined() || grad_w.defined()) {
      PLEURA_DISPATCH(x.device(), "scse_maxout",
                      scse_maxout_bwd(x, cg_, w_, sg_, grad_out, grad_x.defined() ? &grad_x : nullptr,
                                      grad_cg.defined() ? &grad_cg : nullptr, grad_w.defined() ? &grad_w : nullptr));
    }
    return {grad_x, grad_cg, grad_w};
  }
  void release_saved() override {
    saved_x_.reset();
    cg_ = Tensor();
    w_ = Tensor();
    sg_ = Tensor();
  }
  const char* name() const override { return "scse_maxout"; }

 private:
  SavedActivation saved_x_;
  Tensor cg_, w_, sg_;
};

}  // namespace

Tensor scse_maxout(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight) {
  const OpScope op_scope("scse_maxout");  // names the op in out-of-memory messages (engine/alloc_context.h)
  const char* op = "scse_maxout";
  check_float_nd(x, 4, op, "x");
  check_float(channel_gate, op, "channel_gate");
  check_float(spatial_weight, op, "spatial_weight");
  check_same_place(channel_gate, x, op, "channel_gate", "x");
  check_same_place(spatial_weight, x, op, "spatial_weight", "x");
  PLEURA_CHECK(x.numel() > 0, "[scse_maxout] x is empty (x ", describe(x), "); every dimension must be >= 1");
  int64_t N = x.size(0), C = x.size(1);
  PLEURA_CHECK(channel_gate.shape() == Shape({N, C, 1, 1}), "[scse_maxout] channel_gate has shape ",
               channel_gate.shape().str(), ", expected [", N, ", ", C, ", 1, 1] (one gate per sample and channel of x ",
               describe(x), ")");
  PLEURA_CHECK(spatial_weight.shape() == Shape({1, C, 1, 1}), "[scse_maxout] spatial_weight has shape ",
               spatial_weight.shape().str(), ", expected [1, ", C, ", 1, 1] (a 1x1 conv from the ", C,
               " channels of x ", describe(x), " to one channel)");

  Tensor out = Tensor::empty_like(x);
  Tensor spatial_gate = Tensor::empty(Shape{N, 1, x.size(2), x.size(3)}, x.dtype(), x.device());
  PLEURA_DISPATCH(x.device(), op, scse_maxout_fwd(x, channel_gate, spatial_weight, out, spatial_gate));
  record(out, {&x, &channel_gate, &spatial_weight}, [&] {
    return std::make_shared<ScseMaxoutBackward>(x, channel_gate.detach(), spatial_weight.detach(),
                                                spatial_gate);
  });
  return out;
}

}  // namespace pleura
