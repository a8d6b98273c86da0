// Resnet50Unet: selim_sef's Resnet(seg_classes=1, backbone_arch='resnet50') (SIIM solution's variant:
// 3 input channels, no angle input): a torchvision-style ResNet50 encoder in five stages and the
// SelimUnet decoder with widths [64, 128, 256, 256], last_upsample 64. Implementation in
// models/resnet50_unet.cpp, tests in tests/models/test_resnet50_unet.cpp.
#pragma once

#include "models/selim_unet.h"

namespace pleura {

class Resnet50Unet : public SelimUnet {
 public:
  // encoder_stages.0 = Sequential(conv7x7/s2/p3, BN, ReLU); .1 = Sequential(MaxPool2d(3, 2, 1), layer1);
  // .2-.4 = layer2..layer4 (Bottleneck, stride on the 3x3 conv).
  Resnet50Unet();
  const char* name() const override { return "resnet50_unet"; }
  // Decoder: kaiming normal fan_in (selim_sef's AbstractModel). Encoder: selim_sef's resnet.py
  // constructor, normal(0, sqrt(2 / (k * k * out_channels))), i.e. kaiming normal fan_out.
  ConvInit conv_init(const std::string& module_name) const override;
};

}  // namespace pleura
