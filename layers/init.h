// Weight initialisation schemes of the reference code, drawn from a pleura::Rng (so a seed gives the
// same weights everywhere, though not PyTorch's numbers). Implementation in layers/init.cpp, tests in
// tests/layers/test_init.cpp.
#pragma once

#include <functional>
#include <string>

#include "engine/random.h"
#include "layers/conv.h"

namespace pleura {

enum class ConvInit {
  // nn.Conv2d's own reset_parameters(): weight and bias uniform in +-1/sqrt(fan_in).
  kPyTorchDefault,
  // nn.init.kaiming_normal_(weight) (mode fan_in, gain sqrt 2): normal, std sqrt(2 / fan_in); bias 0.
  // selim_sef's AbstractModel._initialize_weights and Cadene's SENet._initialize_weights.
  kKaimingNormalFanIn,
  // kaiming_normal_(mode='fan_out', nonlinearity='relu'), i.e. normal with std sqrt(2 / (K * R * S));
  // bias 0. torchvision's ResNet and selim_sef's resnet.py (normal_(0, sqrt(2 / (k * k * out)))).
  kKaimingNormalFanOut,
};

void init_conv(Conv2d& conv, ConvInit scheme, Rng& rng);

// Initialises every Conv2d and BatchNorm2d of `root`, in named_modules() order (the state_dict
// order): a Conv2d named `name` gets scheme(name); a BatchNorm2d gets weight 1, bias 0, running mean
// 0, running variance 1, num_batches_tracked 0 (the reference codes all do this).
void init_module(Module& root, const std::function<ConvInit(const std::string&)>& scheme, Rng& rng);

}  // namespace pleura
