// Residual blocks and stage builders (layers/blocks.h).
#include "layers/blocks.h"

#include "layers/conv_bn.h"

namespace pleura {

namespace {
Conv2dParams conv_params(int64_t stride, int64_t pad, int64_t groups = 1) {
  return {.stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad, .groups = groups};
}
Tensor residual_of(const std::shared_ptr<Sequential>& downsample, const Tensor& x) {
  return downsample ? downsample->forward(x) : x;
}
}  // namespace

std::shared_ptr<Sequential> make_downsample(int64_t in_channels, int64_t out_channels, int64_t stride) {
  auto seq = std::make_shared<Sequential>();
  seq->append(std::make_shared<Conv2d>(in_channels, out_channels, 1, Bias::kNone, conv_params(stride, 0)));
  seq->append(std::make_shared<BatchNorm2d>(out_channels));
  return seq;
}

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> ds) {
  conv1 = register_module("conv1", std::make_shared<Conv2d>(inplanes, planes, 3, Bias::kNone, conv_params(stride, 1)));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(planes, planes, 3, Bias::kNone, conv_params(1, 1)));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor BasicBlock::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  const Tensor out = conv_bn_relu(*conv1, *bn1, x);
  return conv_bn_relu(*conv2, *bn2, out, residual_of(downsample, x));
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> ds) {
  conv1 = register_module("conv1", std::make_shared<Conv2d>(inplanes, planes, 1, Bias::kNone));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(planes, planes, 3, Bias::kNone, conv_params(stride, 1)));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  conv3 = register_module("conv3", std::make_shared<Conv2d>(planes, planes * kExpansion, 1, Bias::kNone));
  bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(planes * kExpansion));
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor Bottleneck::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  Tensor out = conv_bn_relu(*conv1, *bn1, x);
  out = conv_bn_relu(*conv2, *bn2, out);
  return conv_bn_relu(*conv3, *bn3, out, residual_of(downsample, x));
}

SEResNeXtBottleneck::SEResNeXtBottleneck(int64_t inplanes, int64_t planes, int64_t stride,
                                         std::shared_ptr<Sequential> ds, int64_t groups, int64_t base_width,
                                         int64_t reduction) {
  // Cadene's math.floor(planes * (base_width / 64)) * groups, in integers.
  int64_t width = planes * base_width / 64 * groups;
  int64_t out = planes * kExpansion;
  conv1 = register_module("conv1", std::make_shared<Conv2d>(inplanes, width, 1, Bias::kNone));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(width));
  conv2 = register_module("conv2",
                          std::make_shared<Conv2d>(width, width, 3, Bias::kNone, conv_params(stride, 1, groups)));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(width));
  conv3 = register_module("conv3", std::make_shared<Conv2d>(width, out, 1, Bias::kNone));
  bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(out));
  se_module = register_module("se_module", std::make_shared<SEModule>(out, reduction));
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor SEResNeXtBottleneck::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  Tensor out = conv_bn_relu(*conv1, *bn1, x);
  out = conv_bn_relu(*conv2, *bn2, out);
  out = bn3->forward(conv3->forward(out));
  // conv3 and bn3 before the downsample of the residual, as before the fusion (in one call expression the
  // compiler may evaluate the arguments in either order).
  return se_module->forward_add_relu(std::move(out), residual_of(downsample, x));
}

std::shared_ptr<Sequential> make_res_layer(BlockKind kind, int64_t& inplanes, int64_t planes, int blocks,
                                           int64_t stride) {
  int64_t expansion = kind == BlockKind::kBasic ? BasicBlock::kExpansion : Bottleneck::kExpansion;
  auto layer = std::make_shared<Sequential>();
  for (int b = 0; b < blocks; ++b) {
    int64_t s = b == 0 ? stride : 1;
    std::shared_ptr<Sequential> ds;
    if (b == 0 && (stride != 1 || inplanes != planes * expansion)) ds = make_downsample(inplanes, planes * expansion, s);
    switch (kind) {
      case BlockKind::kBasic: layer->append(std::make_shared<BasicBlock>(inplanes, planes, s, ds)); break;
      case BlockKind::kBottleneck: layer->append(std::make_shared<Bottleneck>(inplanes, planes, s, ds)); break;
      case BlockKind::kSEResNeXt: layer->append(std::make_shared<SEResNeXtBottleneck>(inplanes, planes, s, ds)); break;
    }
    inplanes = planes * expansion;
  }
  return layer;
}

}  // namespace pleura
