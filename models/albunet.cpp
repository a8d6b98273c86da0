// AlbuNet (models/albunet.h). Shapes for an input [N, 3, H, W], nf = num_filters = 32:
//   conv1 = maxpool2x2(relu(bn1(conv7x7/s2(x))))  [N, 64, H/4]     (MaxPool2d(2, 2), not ResNet's 3x3 pool)
//   conv2..conv5 = layer1..layer4                 [N, 64 | 128 | 256 | 512, H/4 | H/8 | H/16 | H/32]
//   center = dec(maxpool2x2(conv5))               [N, 256, H/32]
//   dec5 = dec(cat[center, conv5]) 768->512->256  [N, 256, H/16]
//   dec4 = dec(cat[dec5, conv4])   512->512->256  [N, 256, H/8]
//   dec3 = dec(cat[dec4, conv3])   384->256->64   [N, 64, H/4]
//   dec2 = dec(cat[dec3, conv2])   128->128->128  [N, 128, H/2]
//   dec1 = dec(dec2)               128->128->32   [N, 32, H]
//   final(relu(conv3x3(dec1)))                    [N, 1, H]
#include "models/albunet.h"

#include "layers/conv_bn.h"

namespace pleura {

AlbuNet::AlbuNet() {
  constexpr int64_t nf = 32;
  auto encoder = register_module("encoder", std::make_shared<Module>());
  conv1_ = encoder->register_module(
      "conv1", std::make_shared<Conv2d>(3, 64, 7, Bias::kNone, Conv2dParams{.stride_h = 2, .stride_w = 2,
                                                                            .pad_h = 3, .pad_w = 3}));
  bn1_ = encoder->register_module("bn1", std::make_shared<BatchNorm2d>(64));
  int64_t inplanes = 64;
  layer1_ = encoder->register_module("layer1", make_res_layer(BlockKind::kBasic, inplanes, 64, 3, 1));
  layer2_ = encoder->register_module("layer2", make_res_layer(BlockKind::kBasic, inplanes, 128, 4, 2));
  layer3_ = encoder->register_module("layer3", make_res_layer(BlockKind::kBasic, inplanes, 256, 6, 2));
  layer4_ = encoder->register_module("layer4", make_res_layer(BlockKind::kBasic, inplanes, 512, 3, 2));

  center_ = register_module("center", std::make_shared<AlbuDecoderBlock>(512, nf * 8 * 2, nf * 8));
  dec5_ = register_module("dec5", std::make_shared<AlbuDecoderBlock>(512 + nf * 8, nf * 8 * 2, nf * 8));
  dec4_ = register_module("dec4", std::make_shared<AlbuDecoderBlock>(256 + nf * 8, nf * 8 * 2, nf * 8));
  dec3_ = register_module("dec3", std::make_shared<AlbuDecoderBlock>(128 + nf * 8, nf * 4 * 2, nf * 2));
  dec2_ = register_module("dec2", std::make_shared<AlbuDecoderBlock>(64 + nf * 2, nf * 2 * 2, nf * 2 * 2));
  dec1_ = register_module("dec1", std::make_shared<AlbuDecoderBlock>(nf * 2 * 2, nf * 2 * 2, nf));
  dec0_ = register_module("dec0", std::make_shared<ConvRelu>(nf, nf));
  final_ = register_module("final", std::make_shared<Conv2d>(nf, 1, 1, Bias::kWith));
}

ConvInit AlbuNet::conv_init(const std::string& module_name) const {
  return module_name.starts_with("encoder.") ? ConvInit::kKaimingNormalFanOut : ConvInit::kPyTorchDefault;
}

Tensor AlbuNet::forward_impl(const Tensor& x) {
  Tensor conv1 = pool_.forward(conv_bn_relu(*conv1_, *bn1_, x));
  Tensor conv2 = layer1_->forward(conv1);
  Tensor conv3 = layer2_->forward(conv2);
  Tensor conv4 = layer3_->forward(conv3);
  Tensor conv5 = layer4_->forward(conv4);
  Tensor center = center_->forward(pool_.forward(conv5));
  Tensor dec5 = dec5_->forward_concat({center, conv5});
  Tensor dec4 = dec4_->forward_concat({dec5, conv4});
  Tensor dec3 = dec3_->forward_concat({dec4, conv3});
  Tensor dec2 = dec2_->forward_concat({dec3, conv2});
  Tensor dec1 = dec1_->forward(dec2);
  return final_->forward(dec0_->forward(dec1));
}

}  // namespace pleura
