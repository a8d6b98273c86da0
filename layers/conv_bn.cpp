// Batch norms folded into convolutions for inference (layers/conv_bn.h).
#include "layers/conv_bn.h"

#include <cmath>


namespace pleura {

Tensor conv_bn_relu(Conv2d& conv, BatchNorm2d& bn, const Tensor& x, const Tensor& residual) {
  if (bn.folded()) return conv.forward_relu(x, residual);
  return bn.forward_relu(conv.forward(x), residual);
}

namespace {

void fold_pair(Conv2d& conv, BatchNorm2d& bn) {
  auto host = [](const Tensor& t) { return t.detach().to(Device::cpu()).to(DType::kFloat64); };
  const Tensor w = host(conv.weight()), b = conv.has_bias() ? host(conv.bias()) : Tensor();
  const Tensor gamma = host(bn.weight()), beta = host(bn.bias()), mean = host(bn.running_mean()),
               var = host(bn.running_var());
  const int64_t K = conv.out_channels(), per_channel = w.numel() / K;
  Tensor w_folded = Tensor::empty(w.shape(), DType::kFloat64), b_folded = Tensor::empty(Shape{K}, DType::kFloat64);
  const double* pw = w.data<double>();
  double* pwf = w_folded.data<double>();
  double* pbf = b_folded.data<double>();
  for (int64_t k = 0; k < K; ++k) {
    const double s = gamma.data<double>()[k] / std::sqrt(var.data<double>()[k] + bn.eps());
    for (int64_t i = 0; i < per_channel; ++i) pwf[k * per_channel + i] = pw[k * per_channel + i] * s;
    const double conv_bias = b.defined() ? b.data<double>()[k] : 0.0;
    pbf[k] = (conv_bias - mean.data<double>()[k]) * s + beta.data<double>()[k];
  }
  const Tensor& like = conv.weight();
  conv.set_folded(w_folded.to(like.dtype()).to(like.device()), b_folded.to(like.dtype()).to(like.device()));
  bn.set_folded();
}

}  // namespace

int fold_batch_norms(Module& model) {
  PLEURA_CHECK(!model.is_training(), "[fold_batch_norms] the model is in training mode; batch norms fold into ",
               "convolutions for inference only (call eval() first)");
  int folded = 0;
  for (const auto& [name, module] : model.named_modules()) {
    const auto children = module->named_children();
    for (size_t i = 0; i + 1 < children.size(); ++i) {
      auto* conv = dynamic_cast<Conv2d*>(children[i].second);
      auto* bn = dynamic_cast<BatchNorm2d*>(children[i + 1].second);
      if (conv == nullptr || bn == nullptr || bn->folded() || conv->folded()) continue;
      if (bn->channels() != conv->out_channels()) continue;
      fold_pair(*conv, *bn);
      ++folded;
    }
  }
  return folded;
}

}  // namespace pleura
