// Resnet50Unet (models/resnet50_unet.h).
#include "models/resnet50_unet.h"

#include "layers/basic.h"
#include "layers/batchnorm.h"
#include "layers/blocks.h"

namespace pleura {

Resnet50Unet::Resnet50Unet() : SelimUnet({64, 256, 512, 1024, 2048}, {64, 128, 256, 256}, 64, BottleneckGate::kNone) {
  auto stage0 = std::make_shared<Sequential>();
  stage0->append(std::make_shared<Conv2d>(3, 64, 7, Bias::kNone,
                                          Conv2dParams{.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3}));
  stage0->append(std::make_shared<BatchNorm2d>(64));
  stage0->append(std::make_shared<ReLU>());
  add_encoder_stage(stage0);
  int64_t inplanes = 64;
  auto stage1 = std::make_shared<Sequential>();
  stage1->append(std::make_shared<MaxPool2d>(3, 2, 1));
  stage1->append(make_res_layer(BlockKind::kBottleneck, inplanes, 64, 3, 1));
  add_encoder_stage(stage1);
  add_encoder_stage(make_res_layer(BlockKind::kBottleneck, inplanes, 128, 4, 2));
  add_encoder_stage(make_res_layer(BlockKind::kBottleneck, inplanes, 256, 6, 2));
  add_encoder_stage(make_res_layer(BlockKind::kBottleneck, inplanes, 512, 3, 2));
}

ConvInit Resnet50Unet::conv_init(const std::string& module_name) const {
  return is_decoder(module_name) ? ConvInit::kKaimingNormalFanIn : ConvInit::kKaimingNormalFanOut;
}

}  // namespace pleura
