// AlbuNet (TernausNet's AlbuNet(num_classes=1, num_filters=32, is_deconv=False)): a ResNet34 encoder
// ("encoder.*", torchvision names, without the unused fc layer) and a bilinear decoder (center,
// dec5..dec1, dec0, final). Implementation in models/albunet.cpp, tests in tests/models/test_albunet.cpp.
#pragma once

#include <memory>

#include "layers/basic.h"
#include "layers/batchnorm.h"
#include "layers/blocks.h"
#include "layers/conv.h"
#include "layers/decoders.h"
#include "models/model.h"

namespace pleura {

class AlbuNet : public Model {
 public:
  AlbuNet();
  const char* name() const override { return "albunet"; }
  // Encoder convs: torchvision's resnet34() constructor (kaiming normal, fan_out, relu). Decoder convs:
  // PyTorch's default (TernausNet does not re-initialise them), as SEMANTICS.md says.
  ConvInit conv_init(const std::string& module_name) const override;

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  // The encoder's modules (torchvision's resnet34 names under "encoder.").
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::shared_ptr<Sequential> layer1_, layer2_, layer3_, layer4_;
  std::shared_ptr<AlbuDecoderBlock> center_, dec5_, dec4_, dec3_, dec2_, dec1_;
  std::shared_ptr<ConvRelu> dec0_;
  std::shared_ptr<Conv2d> final_;
  MaxPool2d pool_{2, 2};
};

}  // namespace pleura
