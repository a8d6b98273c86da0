// SEModule and SCSEModule (layers/se.h); the channel gate's excitation is the fused op excitation, SCSE's
// spatial gate and maxout merge the fused op scse_maxout.
#include "layers/se.h"

#include "engine/ops/excitation.h"
#include "engine/ops/gated_residual_relu.h"
#include "engine/ops/global_avg_pool.h"
#include "engine/ops/mul.h"
#include "engine/ops/scse.h"
#include "layers/flops.h"

namespace pleura {

namespace {
void check_reduction(const char* layer, int64_t channels, int64_t reduction) {
  PLEURA_CHECK(reduction >= 1 && channels / reduction >= 1, "[", layer, "] channels ", channels, " and reduction ",
               reduction, " leave no channel in the squeeze (expected reduction >= 1 and channels / reduction >= 1)");
}

// sigmoid(fc2(relu(fc1(gap(x))))): the channel gate [N, C, 1, 1] of both modules, fc1 to the sigmoid in one
// op (engine/ops/excitation.h; tests/ops/test_excitation.cpp checks it against the composition of conv2d,
// relu and sigmoid).
Tensor squeeze_excite(const Tensor& x, Conv2d& fc1, Conv2d& fc2) {
  ConstantFlopsScope pooled;  // fc1 and fc2 act on a [C, 1, 1] vector whatever the input size
  FlopTally::record_conv(fc1.out_channels(), fc1.in_channels(), 1, 1, 1, 1);
  FlopTally::record_conv(fc2.out_channels(), fc2.in_channels(), 1, 1, 1, 1);
  return excitation(global_avg_pool(x), fc1.weight(), fc1.bias(), fc2.weight(), fc2.bias());
}
}  // namespace

SEModule::SEModule(int64_t channels, int64_t reduction) {
  check_reduction("SEModule", channels, reduction);
  fc1 = register_module("fc1", std::make_shared<Conv2d>(channels, channels / reduction, 1, Bias::kWith));
  fc2 = register_module("fc2", std::make_shared<Conv2d>(channels / reduction, channels, 1, Bias::kWith));
}

Tensor SEModule::channel_gate(const Tensor& x) { return squeeze_excite(x, *fc1, *fc2); }

Tensor SEModule::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  return mul(x, channel_gate(x));
}

Tensor SEModule::forward_add_relu(Tensor x, const Tensor& residual) {
  const LayerScope scope = in_layer();
  const Tensor gate = channel_gate(x);
  return gated_residual_relu(std::move(x), gate, residual);
}

SCSEModule::SCSEModule(int64_t channels, int64_t reduction) {
  check_reduction("SCSEModule", channels, reduction);
  fc1 = register_module("fc1", std::make_shared<Conv2d>(channels, channels / reduction, 1, Bias::kWith));
  fc2 = register_module("fc2", std::make_shared<Conv2d>(channels / reduction, channels, 1, Bias::kWith));
  spatial_se_ = register_module("spatial_se", std::make_shared<Sequential>());
  spatial_conv = spatial_se_->append(std::make_shared<Conv2d>(channels, 1, 1, Bias::kNone));
  spatial_se_->append(std::make_shared<Sigmoid>());
}

Tensor SCSEModule::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  Tensor gate = squeeze_excite(x, *fc1, *fc2);
  // max(x * gate, x * sigmoid(conv1x1(x))) in one pass (engine/ops/scse.h; tests/ops/test_scse.cpp checks it
  // against the composition of conv2d, sigmoid, mul and maximum).
  // The fused op does the work of spatial_conv: a 1x1 convolution C -> 1 over the whole map.
  FlopTally::record_conv(1, spatial_conv->in_channels(), 1, 1, x.size(2), x.size(3));
  return scse_maxout(x, gate, spatial_conv->weight());
}

}  // namespace pleura
