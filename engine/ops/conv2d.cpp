// conv2d entry point (engine/ops/conv2d.h): argument checks, output allocation, dispatch, the bf16
// precision policy (engine/precision.h), and the backward node, which asks the kernel only for the
// gradients some input needs.
#include "engine/ops/conv2d.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"
#include "engine/ops/round_bf16.h"
#include "engine/precision.h"
#include "engine/saved_activation.h"

namespace pleura {

namespace {

// Whether conv2d rounds for the bf16 policy itself: on the CPU; the CUDA kernels round as they convert to
// their bfloat16 copies (engine/ops/conv2d.h).
bool rounds_here(bool bf16, Device device) { return bf16 && !device.is_cuda(); }

// In bf16 (engine/precision.h) the backward pass computes with the bf16-rounded input and weight the forward
// used (the input kept as bfloat16, engine/saved_activation.h, or rounded on the CPU and rounded again by the
// CUDA kernels), the incoming gradient is rounded too, and so are the gradients given back (float32
// accumulation inside).
class Conv2dBackward : public Node {
 public:
  Conv2dBackward(SavedActivation x, Tensor w, bool has_bias, const Conv2dParams& p, bool bf16)
      : saved_x_(std::move(x)), w_(std::move(w)), has_bias_(has_bias), p_(p), bf16_(bf16),
        round_here_(rounds_here(bf16, saved_x_.device())) {}

  std::vector<Tensor> apply(const Tensor& grad_y) override {
    // CUDA's kernels take the kept bfloat16 copy itself (engine/ops/conv2d.h); the CPU's, float32.
    const Tensor x = saved_x_.device().is_cuda() ? saved_x_.kept() : saved_x_.get();
    Tensor grad_x, grad_w, grad_b;
    if (needs_grad(0)) grad_x = Tensor::empty(x.shape(), w_.dtype(), x.device());  // x may be bfloat16
    if (needs_grad(1)) grad_w = Tensor::empty_like(w_);
    if (has_bias_ && needs_grad(2)) grad_b = Tensor::empty(Shape{w_.size(0)}, w_.dtype(), w_.device());
    if (grad_x.defined() || grad_w.defined() || grad_b.defined()) {
      const Tensor g = round_here_ ? round_bf16(grad_y) : grad_y;
      // The kernels see the forward's policy (the CUDA backend then runs bfloat16 passes), whatever the
      // policy is when backward runs.
      const PrecisionScope policy(bf16_ ? Precision::kBFloat16 : Precision::kFloat32);
      PLEURA_DISPATCH(x.device(), "conv2d",
                      conv2d_bwd(x, w_, g, p_, grad_x.defined() ? &grad_x : nullptr,
                                 grad_w.defined() ? &grad_w : nullptr, grad_b.defined() ? &grad_b : nullptr));
    }
    if (round_here_)
      for (Tensor* t : {&grad_x, &grad_w, &grad_b})
        if (t->defined()) round_bf16_inplace(*t);
    return {grad_x, grad_w, grad_b};
  }
  void release_saved() override {
    saved_x_.reset();
    w_ = Tensor();
  }
  const char* name() const override { return "conv2d"; }

 private:
  SavedActivation saved_x_;
  Tensor w_;
  bool has_bias_;
  Conv2dParams p_;
  bool bf16_;
  bool round_here_;
};

// "input float32[2, 3, 5, 5] on cpu, weight float32[4, 3, 3, 3] on cpu"
std::string both(const Tensor& x, const Tensor& w) { return cat("input ", describe(x), ", weight ", describe(w)); }

void check_params(const Conv2dParams& p) {
  PLEURA_CHECK(p.stride_h >= 1 && p.stride_w >= 1, "[conv2d] stride is ", p.stride_h, "x", p.stride_w,
               " (h x w), expected >= 1");
  PLEURA_CHECK(p.dilation_h >= 1 && p.dilation_w >= 1, "[conv2d] dilation is ", p.dilation_h, "x", p.dilation_w,
               " (h x w), expected >= 1");
  PLEURA_CHECK(p.pad_h >= 0 && p.pad_w >= 0, "[conv2d] padding is ", p.pad_h, "x", p.pad_w, " (h x w), expected >= 0");
  PLEURA_CHECK(p.groups >= 1, "[conv2d] groups is ", p.groups, ", expected >= 1");
}

}  // namespace

int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  // Floor division also for a negative span (the window does not fit): the result is then <= 0.
  return (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
}

Shape conv2d_output_shape(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p) {
  const char* op = "conv2d";
  check_float_nd(x, 4, op, "input");
  check_float_nd(weight, 4, op, "weight");
  check_same_place(weight, x, op, "weight", "input");
  check_params(p);
  PLEURA_CHECK(x.numel() > 0 && weight.numel() > 0, "[conv2d] empty tensor: ", both(x, weight),
               "; every dimension must be >= 1");
  int64_t C = x.size(1), H = x.size(2), W = x.size(3);
  int64_t K = weight.size(0), R = weight.size(2), S = weight.size(3);
  PLEURA_CHECK(C == weight.size(1) * p.groups, "[conv2d] input has ", C, " channels, weight expects ",
               weight.size(1) * p.groups, " (", weight.size(1), " per group x groups ", p.groups, ") (",
               both(x, weight), ")");
  PLEURA_CHECK(K % p.groups == 0, "[conv2d] weight has ", K, " output channels, not divisible by groups ", p.groups,
               " (weight ", describe(weight), ")");
  if (bias.defined()) {
    check_float(bias, op, "bias");
    check_same_place(bias, x, op, "bias", "input");
    PLEURA_CHECK(bias.ndim() == 1 && bias.size(0) == K, "[conv2d] bias has shape ", bias.shape().str(), ", expected [",
                 K, "] (one per output channel of weight ", describe(weight), ")");
  }
  int64_t P = conv2d_output_size(H, R, p.stride_h, p.pad_h, p.dilation_h);
  int64_t Q = conv2d_output_size(W, S, p.stride_w, p.pad_w, p.dilation_w);
  PLEURA_CHECK(P >= 1 && Q >= 1, "[conv2d] output would be ", P, "x", Q, " (P x Q): input ", H, "x", W,
               " (H x W) with padding ", p.pad_h, "x", p.pad_w, " is smaller than the kernel ", R, "x", S,
               " with dilation ", p.dilation_h, "x", p.dilation_w, " (", both(x, weight), ")");
  return Shape{x.size(0), K, P, Q};
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p) {
  const OpScope op_scope("conv2d");  // names the op in out-of-memory messages (engine/alloc_context.h)
  const Shape y_shape = conv2d_output_shape(x, weight, bias, p);

  // bf16: the inputs, weight and bias rounded to bfloat16, the output too (float32 accumulation inside);
  // here on the CPU, by the kernels on CUDA.
  const bool bf16 = precision() == Precision::kBFloat16 && x.dtype() == DType::kFloat32;
  const bool round_here = rounds_here(bf16, x.device());
  const Tensor xs = round_here ? round_bf16(x) : x.detach();
  const Tensor ws = round_here ? round_bf16(weight) : weight.detach();
  const Tensor bs = round_here && bias.defined() ? round_bf16(bias) : bias;
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  PLEURA_DISPATCH(x.device(), "conv2d", conv2d_fwd(xs, ws, bs, p, y));
  if (round_here) round_bf16_inplace(y);
  y.impl().bf16_values = bf16;  // rounded here or by the CUDA kernels
  record(y, {&x, &weight, &bias}, [&] {
    // Kept as bfloat16, x's copy is the rounded input (and shared with other nodes keeping x); otherwise the
    // input the kernels saw.
    const bool compact = SavedActivation::compacts(x, SavedUse::kConvolutionInput, bf16);
    return std::make_shared<Conv2dBackward>(SavedActivation(compact ? x : xs, SavedUse::kConvolutionInput, bf16),
                                            ws, bias.defined(), p, bf16);
  });
  return y;
}

}  // namespace pleura
