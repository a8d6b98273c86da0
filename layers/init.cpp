// Initialisation schemes (layers/init.h).
#include "layers/init.h"

#include <cmath>

#include "layers/batchnorm.h"

namespace pleura {

void init_conv(Conv2d& conv, ConvInit scheme, Rng& rng) {
  if (scheme == ConvInit::kPyTorchDefault) {
    conv.reset_parameters(rng);
    return;
  }
  Tensor& w = conv.weight();
  double fan = scheme == ConvInit::kKaimingNormalFanIn ? static_cast<double>(conv.fan_in())
                                                       : static_cast<double>(w.size(0) * w.size(2) * w.size(3));
  w.copy_from(randn(w.shape(), rng, w.dtype(), Device::cpu(), 0.0, std::sqrt(2.0 / fan)).to(w.device()));
  if (conv.has_bias()) conv.bias().copy_from(Tensor::zeros_like(conv.bias()));
}

void init_module(Module& root, const std::function<ConvInit(const std::string&)>& scheme, Rng& rng) {
  for (auto& [name, m] : root.named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(m)) init_conv(*conv, scheme(name), rng);
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) bn->reset_parameters();
  }
}

}  // namespace pleura
