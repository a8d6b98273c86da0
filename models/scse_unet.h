// ScseUnet: selim_sef's SCSEUnet(seg_classes=1, backbone_arch='seresnext50'): Cadene's SE-ResNeXt50
// 32x4d encoder in five stages and the SelimUnet decoder with widths [64, 128, 256, 384], SCSE (maxout,
// reduction 2) after each bottleneck, last_upsample 32. Implementation in models/scse_unet.cpp, tests in
// tests/models/test_scse_unet.cpp.
#pragma once

#include "models/selim_unet.h"

namespace pleura {

class ScseUnet : public SelimUnet {
 public:
  // encoder_stages.0 = layer0 (conv1 7x7/s2/p3, bn1, relu1); .1 = Sequential(MaxPool2d(3, stride 2,
  // padding 0, ceil_mode), layer1); .2-.4 = layer2..layer4 (SEResNeXtBottleneck).
  ScseUnet();
  const char* name() const override { return "scse_unet"; }
  // Everything kaiming normal fan_in with zero bias: selim_sef's AbstractModel for the decoder and its
  // senet.py SENet._initialize_weights for the encoder (SE convs included).
  ConvInit conv_init(const std::string&) const override { return ConvInit::kKaimingNormalFanIn; }
};

}  // namespace pleura
