// Residual blocks of the three encoders, with PyTorch's parameter names: torchvision's BasicBlock
// (ResNet34) and Bottleneck (ResNet50, stride on the 3x3 conv), and Cadene's SEResNeXtBottleneck
// (SE-ResNeXt50 32x4d), plus builders of whole ResNet stages ("layer1".."layer4"). Implementation in
// layers/blocks.cpp, tests in tests/layers/test_blocks.cpp.
#pragma once

#include <memory>

#include "layers/batchnorm.h"
#include "layers/conv.h"
#include "layers/se.h"

namespace pleura {

// "downsample": Sequential(1x1 conv in -> out, stride, no bias; BatchNorm2d(out)).
std::shared_ptr<Sequential> make_downsample(int64_t in_channels, int64_t out_channels, int64_t stride);

// relu(bn2(conv2(relu(bn1(conv1(x))))) + residual), conv1 3x3/stride, conv2 3x3, no biases;
// residual = downsample(x) when given, else x.
class BasicBlock : public Layer {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> downsample);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Sequential> downsample;  // null when absent
};

// relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + residual): conv1 1x1 inplanes -> planes,
// conv2 3x3/stride planes -> planes, conv3 1x1 planes -> 4 planes, no biases.
class Bottleneck : public Layer {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> downsample);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<Sequential> downsample;
};

// As Bottleneck with width = floor(planes * base_width / 64) * groups channels inside, a grouped 3x3
// conv (stride here), and se_module(bn3(...)) before the residual sum; SE reduction 16.
class SEResNeXtBottleneck : public Layer {
 public:
  static constexpr int64_t kExpansion = 4;
  SEResNeXtBottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> downsample,
                      int64_t groups = 32, int64_t base_width = 4, int64_t reduction = 16);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<SEModule> se_module;
  std::shared_ptr<Sequential> downsample;
};

enum class BlockKind { kBasic, kBottleneck, kSEResNeXt };

// A ResNet stage (torchvision's / Cadene's _make_layer): `blocks` blocks, children "0".."blocks-1"; the
// first gets stride `stride` and a downsample when stride != 1 or inplanes != planes * expansion.
// `inplanes` is updated to the stage's output channels.
std::shared_ptr<Sequential> make_res_layer(BlockKind kind, int64_t& inplanes, int64_t planes, int blocks,
                                           int64_t stride);

}  // namespace pleura
