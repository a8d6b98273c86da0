// Conv2d (layers/conv.h).
#include "layers/conv.h"

#include <cmath>

#include "engine/ops/conv2d_relu.h"
#include "layers/flops.h"

namespace pleura {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Bias bias, const Conv2dParams& p)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size), p_(p) {
  PLEURA_CHECK(in_channels >= 1 && out_channels >= 1 && kernel_size >= 1 && p.groups >= 1 &&
                   in_channels % p.groups == 0 && out_channels % p.groups == 0,
               "[Conv2d] in_channels ", in_channels, ", out_channels ", out_channels, ", kernel_size ", kernel_size,
               ", groups ", p.groups, ": expected positive sizes with both channel counts divisible by groups");
  weight_ = &register_parameter("weight", Tensor::zeros({out_channels, in_channels / p.groups, kernel_size, kernel_size}));
  if (bias == Bias::kWith) bias_ = &register_parameter("bias", Tensor::zeros({out_channels}));
}

const Tensor& Conv2d::weight_in_use() const {
  if (!folded()) return *weight_;
  PLEURA_CHECK(!is_training(), "[Conv2d] ", name_for_messages(),
               " has a batch norm folded in, for inference only; it cannot run in training mode (build the",
               " model again to train it)");
  return folded_weight_;
}

const Tensor& Conv2d::bias_in_use() { return folded() ? folded_bias_ : bias(); }

Tensor Conv2d::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  Tensor y = conv2d(x, weight_in_use(), bias_in_use(), p_);
  FlopTally::record_conv(out_channels_, in_channels_ / p_.groups, kernel_size_, kernel_size_, y.size(2), y.size(3));
  return y;
}

Tensor Conv2d::forward_relu(const Tensor& x, const Tensor& residual) {
  const LayerScope scope = in_layer();
  Tensor y = conv2d_relu(x, weight_in_use(), bias_in_use(), p_, residual);
  FlopTally::record_conv(out_channels_, in_channels_ / p_.groups, kernel_size_, kernel_size_, y.size(2), y.size(3));
  return y;
}

void Conv2d::set_folded(Tensor weight, Tensor bias) {
  PLEURA_CHECK(weight.shape() == weight_->shape() && weight.dtype() == weight_->dtype() &&
                   weight.device() == weight_->device() && bias.defined() && bias.shape() == Shape{out_channels_},
               "[Conv2d] folded weight ", describe(weight), " and bias ", describe(bias), " should match weight ",
               describe(*weight_), " and have one bias per output channel");
  folded_weight_ = std::move(weight);
  folded_bias_ = std::move(bias);
}

void Conv2d::after_move() {
  if (!folded()) return;
  const Device device = weight_->device();
  const DType dtype = weight_->dtype();
  folded_weight_ = folded_weight_.to(device).to(dtype);
  folded_bias_ = folded_bias_.to(device).to(dtype);
}

int64_t Conv2d::fan_in() const { return in_channels_ / p_.groups * kernel_size_ * kernel_size_; }

void Conv2d::reset_parameters(Rng& rng) {
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in()));
  weight_->copy_from(rand_uniform(weight_->shape(), rng, -bound, bound, weight_->dtype()).to(weight_->device()));
  if (bias_ != nullptr)
    bias_->copy_from(rand_uniform(bias_->shape(), rng, -bound, bound, bias_->dtype()).to(bias_->device()));
}

}  // namespace pleura
