// Parameterless layers: ReLU, Sigmoid, MaxPool2d, Upsample (x2). They exist so that containers keep
// PyTorch's child indices (nn.Sequential counts them too). Implementation in layers/basic.cpp, tests in
// tests/layers/test_basic.cpp.
#pragma once

#include "engine/ops/max_pool2d.h"
#include "engine/ops/upsample.h"
#include "layers/module.h"

namespace pleura {

class ReLU : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
};

class Sigmoid : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
};

class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(const MaxPool2dParams& p) : p_(p) {}
  // Square window `kernel`, `stride`, zero-based `pad`, PyTorch's ceil_mode.
  MaxPool2d(int64_t kernel, int64_t stride, int64_t pad = 0, bool ceil_mode = false)
      : p_{kernel, kernel, stride, stride, pad, pad, ceil_mode} {}
  Tensor forward(const Tensor& x) override;
  const MaxPool2dParams& params() const { return p_; }

 private:
  MaxPool2dParams p_;
};

// nn.Upsample(scale_factor=2, mode) / F.interpolate(scale_factor=2, mode, align_corners=False).
class Upsample : public Layer {
 public:
  explicit Upsample(UpsampleMode mode) : mode_(mode) {}
  Tensor forward(const Tensor& x) override;
  UpsampleMode mode() const { return mode_; }

 private:
  UpsampleMode mode_;
};

}  // namespace pleura
