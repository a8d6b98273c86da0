// Decoder blocks of the two UNet families, with the reference parameter names:
//   AlbuNet (TernausNet): ConvRelu ("conv"), AlbuDecoderBlock = DecoderBlockV2(is_deconv=False) ("block").
//   selim_sef's zoo: UnetDecoderBlock ("layer") and ConvBottleneck ("seq"), with an SCSE module in the
//   SCSE-UNet (ConvSCSEBottleneckNoBn).
// Implementation in layers/decoders.cpp, tests in tests/layers/test_decoders.cpp.
#pragma once

#include <memory>

#include "layers/basic.h"
#include "layers/conv.h"
#include "layers/se.h"

namespace pleura {

// relu(conv(x)), conv 3x3, padding 1, with bias (TernausNet's ConvRelu).
class ConvRelu : public Layer {
 public:
  ConvRelu(int64_t in_channels, int64_t out_channels);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv;
};

// TernausNet's DecoderBlockV2 with is_deconv=False: block = Sequential(bilinear x2 upsample
// (align_corners=False) first, ConvRelu(in -> middle), ConvRelu(middle -> out)).
// [N, in, H, W] -> [N, out, 2H, 2W].
class AlbuDecoderBlock : public Layer {
 public:
  AlbuDecoderBlock(int64_t in_channels, int64_t middle_channels, int64_t out_channels);
  Tensor forward(const Tensor& x) override;
  // forward(concat(parts)), the upsample reading the parts directly (upsample2x_of_concat): the same
  // bits without the concatenated tensor. parts together have in_channels channels.
  Tensor forward_concat(const std::vector<Tensor>& parts);
  std::shared_ptr<ConvRelu> conv_a, conv_b;  // block.1, block.2

 private:
  std::shared_ptr<Sequential> block_;
};

// selim_sef's UnetDecoderBlock: layer = Sequential(nearest x2 upsample, conv3x3 in -> out with bias,
// ReLU). [N, in, H, W] -> [N, out, 2H, 2W].
class UnetDecoderBlock : public Layer {
 public:
  UnetDecoderBlock(int64_t in_channels, int64_t out_channels);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv;  // layer.1

 private:
  std::shared_ptr<Sequential> layer_;
};

enum class BottleneckGate { kNone, kSCSE };

// selim_sef's ConvBottleneck: seq(cat[dec, enc]) with seq = Sequential(conv3x3 in -> out with bias,
// ReLU) and, for BottleneckGate::kSCSE (ConvSCSEBottleneckNoBn), SCSEModule(out, reduction 2) as seq.2.
// in_channels = channels of dec + channels of enc.
class ConvBottleneck : public Module {
 public:
  ConvBottleneck(int64_t in_channels, int64_t out_channels, BottleneckGate gate);
  // dec [N, Cd, H, W], enc [N, Ce, H, W] -> [N, out, H, W]; concat order [dec, enc] as the reference.
  Tensor forward(const Tensor& dec, const Tensor& enc);
  std::shared_ptr<Conv2d> conv;       // seq.0
  std::shared_ptr<SCSEModule> scse;   // seq.2, null without the gate

 private:
  std::shared_ptr<Sequential> seq_;
};

}  // namespace pleura
