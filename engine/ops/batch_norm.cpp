// batch_norm2d and batch_norm2d_relu entry points: checks, dispatch to the training or eval kernels,
// backward node (saves x, weight, the per-channel mean and invstd the forward used, and the fused op's
// output for its ReLU mask; x and the output as bfloat16 under the bf16 policy where that loses nothing:
// engine/saved_activation.h).
#include "engine/ops/batch_norm.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"
#include "engine/ops/relu.h"
#include "engine/precision.h"
#include "engine/saved_activation.h"

namespace pleura {

namespace {

constexpr const char* kOp = "batch_norm2d";

// The output of a batch norm without a residual sum (ReLU or not), computed again from the kept input and the
// double statistics the forward normalised with: the same kernel on the same values, so the same bits
// (engine/saved_activation.h's recomputation). Holds nothing the backward node does not hold already but the
// statistics (2 * C doubles).
class BatchNormRecipe : public ActivationRecipe {
 public:
  BatchNormRecipe(SavedActivation x, Tensor stats, Tensor weight, Tensor bias, bool relu)
      : x_(std::move(x)), stats_(std::move(stats)), weight_(std::move(weight)), bias_(std::move(bias)), relu_(relu) {}
  Tensor recompute() const override {
    const OpScope op_scope(kOp, /*backward=*/true);
    const Tensor x = x_.get();
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    PLEURA_DISPATCH(x.device(), kOp, batch_norm_normalise(x, stats_, weight_, bias_, relu_, y));
    return y;
  }
  Device device() const override { return x_.device(); }

 private:
  SavedActivation x_;
  Tensor stats_, weight_, bias_;
  bool relu_;
};

// The gradients of x, weight, bias (and of the residual, for batch_norm2d_relu). With the ReLU epilogue the
// incoming gradient is first masked where the output is not positive (relu_bwd), which is also the residual's.
class BatchNormBackward : public Node {
 public:
  BatchNormBackward(SavedActivation x, Tensor weight, Tensor save_mean, Tensor save_invstd, bool training,
                    Communicator* sync, SavedActivation relu_output, bool has_residual,
                    std::shared_ptr<const ActivationRecipe> recipe)
      : recipe_(std::move(recipe)),
        saved_x_(std::move(x)),
        weight_(std::move(weight)),
        save_mean_(std::move(save_mean)),
        save_invstd_(std::move(save_invstd)),
        saved_relu_output_(std::move(relu_output)),
        has_relu_(saved_relu_output_.defined()),
        training_(training),
        has_residual_(has_residual),
        sync_(sync) {}
  std::vector<Tensor> apply(const Tensor& grad_out) override {
    // The kernels read a bfloat16 copy as it is (no widened temporary).
    const Tensor x = saved_x_.kept();
    Tensor grad_y = grad_out;
    if (saved_relu_output_.defined()) {
      grad_y = Tensor::empty_like(grad_out);
      PLEURA_DISPATCH(x.device(), kOp, relu_bwd(saved_relu_output_.kept(), grad_out, grad_y));
    }
    Tensor grad_x, grad_weight, grad_bias;
    if (needs_grad(0)) grad_x = Tensor::empty(x.shape(), grad_out.dtype(), x.device());
    if (needs_grad(1)) grad_weight = Tensor::empty_like(weight_);
    if (needs_grad(2)) grad_bias = Tensor::empty_like(weight_);
    if (grad_x.defined() || grad_weight.defined() || grad_bias.defined()) {
      PLEURA_DISPATCH(x.device(), kOp,
                      batch_norm_bwd(x, weight_, save_mean_, save_invstd_, training_, sync_, grad_y,
                                     grad_x.defined() ? &grad_x : nullptr,
                                     grad_weight.defined() ? &grad_weight : nullptr,
                                     grad_bias.defined() ? &grad_bias : nullptr));
    }
    std::vector<Tensor> grads = {grad_x, grad_weight, grad_bias};
    if (has_residual_) grads.push_back(needs_grad(3) ? grad_y : Tensor());
    return grads;
  }
  void release_saved() override {
    recipe_ = nullptr;
    saved_x_.reset();
    weight_ = Tensor();
    save_mean_ = Tensor();
    save_invstd_ = Tensor();
    saved_relu_output_.reset();
  }
  const char* name() const override { return has_relu_ ? "batch_norm2d_relu" : kOp; }

 private:
  // The output's recipe, when registered (batch_norm_op): owned here, so that it lives until this node's
  // backward, after those of the nodes that took it (they come later in the forward pass).
  std::shared_ptr<const ActivationRecipe> recipe_;
  SavedActivation saved_x_;
  Tensor weight_, save_mean_, save_invstd_;
  SavedActivation saved_relu_output_;
  bool has_relu_;  // kept for name() after release_saved()
  bool training_, has_residual_;
  Communicator* sync_;
};

// A per-channel vector: float, on x's device with x's dtype, shape [C].
void check_channel_vector(const Tensor& t, const Tensor& x, const char* arg) {
  check_float(t, kOp, arg);
  check_same_place(t, x, kOp, arg, "input");
  int64_t c = x.size(1);
  PLEURA_CHECK(t.shape() == Shape{c}, "[", kOp, "] ", arg, " has shape ", t.shape().str(), ", expected [", c,
               "] (one value per channel of input ", describe(x), ")");
}


// Both entry points: checks, the forward kernels (with p's epilogue), the backward node.
Tensor batch_norm_op(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                     Tensor& running_var, const BatchNormParams& p) {
  const OpScope op_scope(kOp);  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float_nd(x, 4, kOp, "input");
  PLEURA_CHECK(weight.defined() == bias.defined(), "[", kOp, "] weight is ", weight.defined() ? "defined" : "undefined",
               " but bias is ", bias.defined() ? "defined" : "undefined", ": pass both as [", x.size(1),
               "] or neither (input ", describe(x), ")");
  if (weight.defined()) {
    check_channel_vector(weight, x, "weight");
    check_channel_vector(bias, x, "bias");
  }
  check_channel_vector(running_mean, x, "running_mean");
  check_channel_vector(running_var, x, "running_var");
  if (p.residual != nullptr) {
    check_same_place(*p.residual, x, kOp, "residual", "input");
    check_same_shape(*p.residual, x, kOp, "residual", "input");
  }
  int64_t m = x.size(0) * x.size(2) * x.size(3);
  // PyTorch's message: the unbiased variance needs M > 1 (and one value normalises to 0 anyway).
  PLEURA_CHECK(!p.training || m > 1, "[", kOp,
               "] expected more than 1 value per channel when training, got N * H * W = ", m, " (input ", describe(x),
               ")");

  int64_t c = x.size(1);
  Tensor y = Tensor::empty_like(x);
  Tensor save_mean = Tensor::empty(Shape{c}, x.dtype(), x.device());
  Tensor save_invstd = Tensor::empty(Shape{c}, x.dtype(), x.device());
  std::vector<const Tensor*> inputs = {&x, &weight, &bias};
  if (p.residual != nullptr) inputs.push_back(p.residual);
  const bool bf16 = precision() == Precision::kBFloat16;
  // The nodes that keep y keep a recipe for it instead (engine/saved_activation.h): it needs the double
  // statistics.
  const bool recipe = p.residual == nullptr && needs_recording(inputs) && SavedActivation::may_recompute(y);
  Tensor stats = recipe ? Tensor::empty(Shape{2 * c}, DType::kFloat64, x.device()) : Tensor();
  Tensor* stats_out = recipe ? &stats : nullptr;
  if (p.training) {
    PLEURA_DISPATCH(x.device(), kOp,
                    batch_norm_fwd_train(x, weight, bias, running_mean, running_var, p, y, save_mean, save_invstd,
                                         stats_out));
  } else {
    PLEURA_DISPATCH(x.device(), kOp,
                    batch_norm_fwd_eval(x, weight, bias, running_mean, running_var, p, y, save_mean, save_invstd,
                                        stats_out));
  }
  std::shared_ptr<const ActivationRecipe> y_recipe;
  if (recipe) {
    y_recipe = std::make_shared<BatchNormRecipe>(SavedActivation(x, SavedUse::kValues, bf16), stats,
                                                 weight.defined() ? weight.detach() : Tensor(),
                                                 bias.defined() ? bias.detach() : Tensor(), p.relu);
    register_recipe(y, y_recipe);
  }
  record(y, inputs, [&] {
    return std::make_shared<BatchNormBackward>(
        SavedActivation(x, SavedUse::kValues, bf16), weight.defined() ? weight.detach() : Tensor(), save_mean,
        save_invstd, p.training, p.training ? p.sync : nullptr,
        p.relu ? SavedActivation(y, SavedUse::kSign, bf16) : SavedActivation(), p.residual != nullptr, y_recipe);
  });
  return y;
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                    Tensor& running_var, const BatchNormParams& p) {
  BatchNormParams plain = p;
  plain.relu = false;
  plain.residual = nullptr;
  return batch_norm_op(x, weight, bias, running_mean, running_var, plain);
}

Tensor batch_norm2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                         Tensor& running_var, const BatchNormParams& p, const Tensor& residual) {
  BatchNormParams fused = p;
  fused.relu = true;
  fused.residual = residual.defined() ? &residual : nullptr;
  return batch_norm_op(x, weight, bias, running_mean, running_var, fused);
}

}  // namespace pleura
