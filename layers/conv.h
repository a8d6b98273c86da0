// Conv2d: PyTorch's nn.Conv2d as a Layer (parameters "weight" [K, C/groups, R, S] and optional "bias"
// [K]) over the conv2d op (engine/ops/conv2d.h), and over conv2d_relu for a convolution followed by its
// ReLU. Implementation in layers/conv.cpp, tests in tests/layers/test_conv_bn.cpp (forward_relu and
// folding: tests/layers/test_conv_bn_fold.cpp); weight initialisation schemes in layers/init.h.
#pragma once

#include <cstdint>

#include "engine/ops/conv2d.h"
#include "engine/random.h"
#include "layers/module.h"

namespace pleura {

enum class Bias { kNone, kWith };

class Conv2d : public Layer {
 public:
  // A square kernel_size x kernel_size convolution from in_channels to out_channels; stride, padding,
  // dilation and groups in `p`. Weights start at zero: call reset_parameters() (PyTorch's default
  // initialisation) or one of the schemes of layers/init.h.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Bias bias, const Conv2dParams& p = {});

  // x [N, C, H, W] -> [N, K, P, Q] (conv2d's output size).
  Tensor forward(const Tensor& x) override;
  // relu(forward(x) + residual) (residual optional, of the output's shape) through conv2d_relu
  // (engine/ops/conv2d_relu.h): one fused op, the same bits.
  Tensor forward_relu(const Tensor& x, const Tensor& residual = Tensor());
  // Inference with a batch norm folded in (layers/conv_bn.h): forward uses `weight` and `bias` in place of
  // the parameters, which stay as they are (checkpoints save them). In training mode forward then throws.
  // A module move (Module::to) takes the folded tensors along.
  void set_folded(Tensor weight, Tensor bias);
  bool folded() const { return folded_weight_.defined(); }
  void after_move() override;
  // PyTorch's default (kaiming_uniform_ with a = sqrt(5)): weight and bias uniform in
  // [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = C/groups * R * S.
  void reset_parameters(Rng& rng);

  Tensor& weight() { return *weight_; }
  // Undefined when the convolution has no bias.
  Tensor& bias() { return bias_ != nullptr ? *bias_ : no_bias_; }
  bool has_bias() const { return bias_ != nullptr; }
  const Conv2dParams& params() const { return p_; }
  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  // C/groups * R * S: the inputs each output element sums over.
  int64_t fan_in() const;

 private:
  int64_t in_channels_, out_channels_, kernel_size_;
  Conv2dParams p_;
  Tensor* weight_ = nullptr;
  Tensor* bias_ = nullptr;
  Tensor no_bias_;
  Tensor folded_weight_, folded_bias_;
  // The weight and bias forward uses: the parameters, or the folded ones.
  const Tensor& weight_in_use() const;
  const Tensor& bias_in_use();
};

}  // namespace pleura
