// ScseUnet (models/scse_unet.h).
#include "models/scse_unet.h"

#include "layers/basic.h"
#include "layers/batchnorm.h"
#include "layers/blocks.h"

namespace pleura {

ScseUnet::ScseUnet() : SelimUnet({64, 256, 512, 1024, 2048}, {64, 128, 256, 384}, 32, BottleneckGate::kSCSE) {
  auto layer0 = std::make_shared<Sequential>();
  layer0->append(std::make_shared<Conv2d>(3, 64, 7, Bias::kNone,
                                          Conv2dParams{.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3}),
                 "conv1");
  layer0->append(std::make_shared<BatchNorm2d>(64), "bn1");
  layer0->append(std::make_shared<ReLU>(), "relu1");
  add_encoder_stage(layer0);
  int64_t inplanes = 64;
  auto stage1 = std::make_shared<Sequential>();
  // Cadene's SENet pools with ceil_mode=True and no padding (Caffe compatibility): 3/2/0.
  stage1->append(std::make_shared<MaxPool2d>(3, 2, 0, true));
  stage1->append(make_res_layer(BlockKind::kSEResNeXt, inplanes, 64, 3, 1));
  add_encoder_stage(stage1);
  add_encoder_stage(make_res_layer(BlockKind::kSEResNeXt, inplanes, 128, 4, 2));
  add_encoder_stage(make_res_layer(BlockKind::kSEResNeXt, inplanes, 256, 6, 2));
  add_encoder_stage(make_res_layer(BlockKind::kSEResNeXt, inplanes, 512, 3, 2));
}

}  // namespace pleura
