// Squeeze-and-excitation layers of the SE-ResNeXt encoder and the SCSE-UNet decoder (Cadene's
// pretrainedmodels SEModule and selim_sef's SCSEModule, mode 'maxout'). Implementation in
// layers/se.cpp, tests in tests/layers/test_se.cpp.
#pragma once

#include <memory>

#include "layers/basic.h"
#include "layers/conv.h"

namespace pleura {

// x * sigmoid(fc2(relu(fc1(global_avg_pool(x))))), fc1: 1x1 conv C -> C/reduction with bias, fc2: 1x1
// conv C/reduction -> C with bias. Parameters fc1.weight, fc1.bias, fc2.weight, fc2.bias.
class SEModule : public Layer {
 public:
  SEModule(int64_t channels, int64_t reduction = 16);
  // x [N, C, H, W] -> same shape.
  Tensor forward(const Tensor& x) override;
  // relu(forward(x) + residual), the end of an SE-ResNeXt bottleneck, with the gate, the sum and the ReLU in
  // one pass (engine/ops/gated_residual_relu.h); in place on x when inference holds x alone.
  Tensor forward_add_relu(Tensor x, const Tensor& residual);
  // sigmoid(fc2(relu(fc1(global_avg_pool(x))))): [N, C, 1, 1].
  Tensor channel_gate(const Tensor& x);

  std::shared_ptr<Conv2d> fc1, fc2;
};

// Concurrent spatial and channel squeeze-and-excitation, 'maxout' merge (selim_sef's SCSEModule):
//   max(x * channel_gate(x), x * sigmoid(spatial_se.0(x))),
// channel gate as in SEModule (reduction 2 in the SCSE-UNet), spatial_se.0 a 1x1 conv C -> 1 without bias.
// Parameters fc1.*, fc2.*, spatial_se.0.weight.
class SCSEModule : public Layer {
 public:
  SCSEModule(int64_t channels, int64_t reduction = 2);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Conv2d> fc1, fc2, spatial_conv;

 private:
  std::shared_ptr<Sequential> spatial_se_;
};

}  // namespace pleura
