// SEModule, SCSEModule and the composed SCSE maxout (layers/se.h).
#include "layers/se.h"

#include "engine/ops/global_avg_pool.h"
#include "engine/ops/maximum.h"
#include "engine/ops/mul.h"
#include "engine/ops/relu.h"
#include "engine/ops/sigmoid.h"

namespace pleura {

namespace {
void check_reduction(const char* layer, int64_t channels, int64_t reduction) {
  PLEURA_CHECK(reduction >= 1 && channels / reduction >= 1, "[", layer, "] channels ", channels, " and reduction ",
               reduction, " leave no channel in the squeeze (expected reduction >= 1 and channels / reduction >= 1)");
}
}  // namespace

SEModule::SEModule(int64_t channels, int64_t reduction) {
  check_reduction("SEModule", channels, reduction);
  fc1 = register_module("fc1", std::make_shared<Conv2d>(channels, channels / reduction, 1, Bias::kWith));
  fc2 = register_module("fc2", std::make_shared<Conv2d>(channels / reduction, channels, 1, Bias::kWith));
}

Tensor SEModule::channel_gate(const Tensor& x) {
  return sigmoid(fc2->forward(relu(fc1->forward(global_avg_pool(x)))));
}

Tensor SEModule::forward(const Tensor& x) { return mul(x, channel_gate(x)); }

SCSEModule::SCSEModule(int64_t channels, int64_t reduction) {
  check_reduction("SCSEModule", channels, reduction);
  fc1 = register_module("fc1", std::make_shared<Conv2d>(channels, channels / reduction, 1, Bias::kWith));
  fc2 = register_module("fc2", std::make_shared<Conv2d>(channels / reduction, channels, 1, Bias::kWith));
  spatial_se_ = register_module("spatial_se", std::make_shared<Sequential>());
  spatial_conv = spatial_se_->append(std::make_shared<Conv2d>(channels, 1, 1, Bias::kNone));
  spatial_se_->append(std::make_shared<Sigmoid>());
}

Tensor SCSEModule::forward(const Tensor& x) {
  Tensor gate = sigmoid(fc2->forward(relu(fc1->forward(global_avg_pool(x)))));
  return scse_maxout_composed(x, gate, spatial_conv->weight());
}

Tensor scse_maxout_composed(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight) {
  Tensor spatial_gate = sigmoid(conv2d(x, spatial_weight, Tensor()));
  return maximum(mul(x, channel_gate), mul(x, spatial_gate));
}

}  // namespace pleura
