// A miniature UNet-like network built from every engine op (conv, batch norm, relu, max pool, bilinear
// upsample, concat, global average pool, sigmoid, channel gate), for whole-graph gradient checks,
// an overfitting run and CPU-vs-CUDA training parity.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace pleura::testing {

struct TinyNet {
  // Parameters in a fixed order (see params()); running statistics are buffers.
  // As in ResNets, the convolution before batch norm has no bias (batch norm would cancel it).
  Tensor w1, bn_w, bn_b, w2, b2, w3, b3;
  Tensor running_mean, running_var;

  // Weights drawn from a seed (float64 or float32, on the CPU); they require gradients.
  static TinyNet make(uint64_t seed, DType dtype);
  TinyNet to(Device device) const;
  std::vector<Tensor*> params();

  // x [N,3,H,W] with H, W even -> [N,1,H,W]. `p` holds the parameters to use, in params() order.
  Tensor forward(const Tensor& x, const std::vector<Tensor>& p);
  Tensor forward(const Tensor& x);
};

// mean((out - target)^2)
Tensor mse(const Tensor& out, const Tensor& target);
// p -= lr * p.grad for every parameter, outside the tape; then clears the gradients.
void sgd_step(const std::vector<Tensor*>& params, double lr);

}  // namespace pleura::testing
