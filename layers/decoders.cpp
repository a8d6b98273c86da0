// Decoder blocks of AlbuNet and of selim_sef's UNets (layers/decoders.h).
#include "layers/decoders.h"

#include "engine/ops/concat.h"
#include "engine/ops/upsample.h"

namespace pleura {

namespace {
const Conv2dParams kSame3x3{.pad_h = 1, .pad_w = 1};
}

ConvRelu::ConvRelu(int64_t in_channels, int64_t out_channels) {
  conv = register_module("conv", std::make_shared<Conv2d>(in_channels, out_channels, 3, Bias::kWith, kSame3x3));
  register_module("activation", std::make_shared<ReLU>());
}

Tensor ConvRelu::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  return conv->forward_relu(x);
}

AlbuDecoderBlock::AlbuDecoderBlock(int64_t in_channels, int64_t middle_channels, int64_t out_channels) {
  block_ = register_module("block", std::make_shared<Sequential>());
  block_->append(std::make_shared<Upsample>(UpsampleMode::kBilinear));
  conv_a = block_->append(std::make_shared<ConvRelu>(in_channels, middle_channels));
  conv_b = block_->append(std::make_shared<ConvRelu>(middle_channels, out_channels));
}

Tensor AlbuDecoderBlock::forward(const Tensor& x) { return block_->forward(x); }

Tensor AlbuDecoderBlock::forward_concat(const std::vector<Tensor>& parts) {
  const LayerScope scope = in_layer();
  int64_t channels = 0;
  for (const Tensor& p : parts) channels += p.ndim() == 4 ? p.size(1) : 0;
  PLEURA_CHECK(channels == conv_a->conv->in_channels(), "[AlbuDecoderBlock] the ", parts.size(),
               " inputs have ", channels, " channels together, expected ", conv_a->conv->in_channels());
  return conv_b->forward(conv_a->forward(upsample2x_of_concat(parts, UpsampleMode::kBilinear)));
}

UnetDecoderBlock::UnetDecoderBlock(int64_t in_channels, int64_t out_channels) {
  layer_ = register_module("layer", std::make_shared<Sequential>());
  layer_->append(std::make_shared<Upsample>(UpsampleMode::kNearest));
  conv = layer_->append(std::make_shared<Conv2d>(in_channels, out_channels, 3, Bias::kWith, kSame3x3));
  layer_->append(std::make_shared<ReLU>());
}

Tensor UnetDecoderBlock::forward(const Tensor& x) { return layer_->forward(x); }

ConvBottleneck::ConvBottleneck(int64_t in_channels, int64_t out_channels, BottleneckGate gate) {
  seq_ = register_module("seq", std::make_shared<Sequential>());
  conv = seq_->append(std::make_shared<Conv2d>(in_channels, out_channels, 3, Bias::kWith, kSame3x3));
  seq_->append(std::make_shared<ReLU>());
  if (gate == BottleneckGate::kSCSE) scse = seq_->append(std::make_shared<SCSEModule>(out_channels, 2));
}

Tensor ConvBottleneck::forward(const Tensor& dec, const Tensor& enc) {
  const LayerScope scope = in_layer();
  PLEURA_CHECK(dec.ndim() == 4 && enc.ndim() == 4 && dec.size(1) + enc.size(1) == conv->in_channels(),
               "[ConvBottleneck] decoder ", describe(dec), " and skip ", describe(enc), " should have ",
               conv->in_channels(), " channels together");
  return seq_->forward(concat({dec, enc}));
}

}  // namespace pleura
