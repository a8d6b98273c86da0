// max_pool2d entry point: parameter and shape checks, dispatch, backward node (saves the argmax and
// the input shape, never the input).
#include "engine/ops/max_pool2d.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {

std::string describe_params(const MaxPool2dParams& p) {
  return cat("kernel ", p.kernel_h, "x", p.kernel_w, ", stride ", p.stride_h, "x", p.stride_w, ", padding ",
             p.pad_h, "x", p.pad_w, ", ceil_mode ", p.ceil_mode ? "true" : "false");
}

void check_params(const MaxPool2dParams& p) {
  PLEURA_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1, "[max_pool2d] kernel is ", p.kernel_h, "x", p.kernel_w,
               ", expected >= 1 in both dims (", describe_params(p), ")");
  PLEURA_CHECK(p.stride_h >= 1 && p.stride_w >= 1, "[max_pool2d] stride is ", p.stride_h, "x", p.stride_w,
               ", expected >= 1 in both dims (", describe_params(p), ")");
  PLEURA_CHECK(p.pad_h >= 0 && p.pad_w >= 0, "[max_pool2d] padding is ", p.pad_h, "x", p.pad_w,
               ", expected >= 0 (", describe_params(p), ")");
  PLEURA_CHECK(p.pad_h <= p.kernel_h / 2 && p.pad_w <= p.kernel_w / 2, "[max_pool2d] padding ", p.pad_h, "x",
               p.pad_w, " exceeds half the kernel ", p.kernel_h, "x", p.kernel_w, ": expected pad <= kernel / 2 = ",
               p.kernel_h / 2, "x", p.kernel_w / 2, " (PyTorch's rule)");
}

class MaxPool2dBackward : public Node {
 public:
  MaxPool2dBackward(Tensor argmax, Shape x_shape, MaxPool2dParams p)
      : argmax_(std::move(argmax)), x_shape_(x_shape), p_(p) {}
  std::vector<Tensor> apply(const Tensor& grad_y) override {
    Tensor grad_x = Tensor::empty(x_shape_, grad_y.dtype(), grad_y.device());
    PLEURA_DISPATCH(grad_y.device(), "max_pool2d", max_pool2d_bwd(grad_y, argmax_, p_, grad_x));
    return {grad_x};
  }
  void release_saved() override { argmax_ = Tensor(); }
  const char* name() const override { return "max_pool2d"; }

 private:
  Tensor argmax_;
  Shape x_shape_;
  MaxPool2dParams p_;
};

}  // namespace

DType max_pool2d_offset_dtype(const MaxPool2dParams& p) {
  return p.kernel_h * p.kernel_w <= 256 ? DType::kUInt8 : DType::kInt64;
}

int64_t max_pool2d_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode) {
  int64_t num = in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0);
  // Floor division (num may be negative when the input is smaller than the kernel).
  int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Tensor max_pool2d(const Tensor& x, const MaxPool2dParams& p) {
  const OpScope op_scope("max_pool2d");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float_nd(x, 4, "max_pool2d", "input");
  check_params(p);
  int64_t H = x.size(2), W = x.size(3);
  int64_t P = max_pool2d_out_size(H, p.kernel_h, p.stride_h, p.pad_h, p.ceil_mode);
  int64_t Q = max_pool2d_out_size(W, p.kernel_w, p.stride_w, p.pad_w, p.ceil_mode);
  PLEURA_CHECK(P >= 1 && Q >= 1, "[max_pool2d] output size would be ", P, "x", Q, ", expected at least 1x1: input ",
               describe(x), " is too small for ", describe_params(p));
  Shape y_shape{x.size(0), x.size(1), P, Q};
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  // The argmax only where a backward will read it (inference skips it, and the kernels a faster path).
  Tensor argmax = needs_recording({&x}) ? Tensor::empty(y_shape, max_pool2d_offset_dtype(p), x.device()) : Tensor();
  if (y.numel() > 0) PLEURA_DISPATCH(x.device(), "max_pool2d", max_pool2d_fwd(x, p, y, argmax));
  record(y, {&x}, [&] { return std::make_shared<MaxPool2dBackward>(argmax, x.shape(), p); });
  return y;
}

}  // namespace pleura
