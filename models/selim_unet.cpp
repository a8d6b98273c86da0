// SelimUnet (models/selim_unet.h). With filters f0..f4 and decoder widths d0..d3:
//   bottlenecks.k    (k = 0..3, deep to shallow): conv3x3(f[3-k] + d[3-k] -> d[3-k]) + ReLU (+ SCSE)
//   decoder_stages.i (i = 0..3): nearest x2, conv3x3(i == 3 ? f4 : d[i+1] -> d[i]) + ReLU
//   last_upsample: nearest x2, conv3x3(d0 -> last) + ReLU;  final.0: conv1x1(last -> 1)
#include "models/selim_unet.h"

namespace pleura {

SelimUnet::SelimUnet(std::vector<int64_t> filters, std::vector<int64_t> decoder_filters, int64_t last_upsample,
                     BottleneckGate gate)
    : filters_(std::move(filters)) {
  const std::vector<int64_t>& d = decoder_filters;
  auto bottlenecks = register_module("bottlenecks", std::make_shared<Module>());
  for (int k = 0; k < 4; ++k) {
    int level = 3 - k;
    bottlenecks_.push_back(bottlenecks->register_module(
        std::to_string(k), std::make_shared<ConvBottleneck>(filters_[level] + d[level], d[level], gate)));
  }
  auto stages = register_module("decoder_stages", std::make_shared<Module>());
  for (int i = 0; i < 4; ++i) {
    int64_t in = i == 3 ? filters_[4] : d[i + 1];
    decoder_stages_.push_back(
        stages->register_module(std::to_string(i), std::make_shared<UnetDecoderBlock>(in, d[i])));
  }
  last_upsample_ = register_module("last_upsample", std::make_shared<UnetDecoderBlock>(d[0], last_upsample));
  final_ = register_module("final", std::make_shared<Sequential>());
  final_->append(std::make_shared<Conv2d>(last_upsample, 1, 1, Bias::kWith));
  encoder_container_ = register_module("encoder_stages", std::make_shared<Module>());
}

void SelimUnet::add_encoder_stage(std::shared_ptr<Layer> stage) {
  encoder_container_->register_module(std::to_string(encoder_stages_.size()), stage);
  encoder_stages_.push_back(std::move(stage));
}

Tensor SelimUnet::forward_impl(const Tensor& x) {
  PLEURA_CHECK(encoder_stages_.size() == 5, "[", name(), "] has ", encoder_stages_.size(),
               " encoder stages, expected 5 (internal error)");
  std::vector<Tensor> enc;
  Tensor y = x;
  for (auto& stage : encoder_stages_) {
    y = stage->forward(y);
    enc.push_back(y);
  }
  for (int k = 0; k < 4; ++k) {
    int level = 3 - k;
    y = bottlenecks_[k]->forward(decoder_stages_[level]->forward(y), enc[level]);
  }
  return final_->forward(last_upsample_->forward(y));
}

}  // namespace pleura
