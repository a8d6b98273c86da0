// BatchNorm2d: PyTorch's nn.BatchNorm2d as a Layer over batch_norm2d (engine/ops/batch_norm.h), with
// PyTorch's state: parameters "weight", "bias", buffers "running_mean", "running_var",
// "num_batches_tracked". Implementation in layers/batchnorm.cpp, tests in tests/layers/test_conv_bn.cpp.
#pragma once

#include <cstdint>

#include "engine/communicator.h"
#include "layers/module.h"

namespace pleura {

class BatchNorm2d : public Layer {
 public:
  // Starts as PyTorch's: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0.
  explicit BatchNorm2d(int64_t channels, double momentum = 0.1, double eps = 1e-5);

  // x [N, C, H, W] -> same shape. Training mode: batch statistics; running_mean and running_var
  // move towards them by `momentum` (unbiased variance) and num_batches_tracked grows by 1, under
  // NoGradGuard too, as in PyTorch (a training step skipped for a non-finite value puts the running
  // statistics back, not this count). Eval mode: running statistics, nothing changes.
  Tensor forward(const Tensor& x) override;
  // relu(forward(x) + residual) (residual optional) through batch_norm2d_relu: one op, the same bits.
  Tensor forward_relu(const Tensor& x, const Tensor& residual = Tensor());
  // Back to the starting values above.
  void reset_parameters();

  Tensor& weight() { return *weight_; }
  Tensor& bias() { return *bias_; }
  Tensor& running_mean() { return *running_mean_; }
  Tensor& running_var() { return *running_var_; }
  // int64, shape [] (0-dim), like PyTorch's. Kept on the CPU whatever the module's device
  // (BufferPlacement::kHost): no kernel reads it, and counting on the device would cost a
  // device-to-host synchronisation per layer per step.
  Tensor& num_batches_tracked() { return *num_batches_tracked_; }
  int64_t channels() const { return channels_; }
  // Synchronised batch norm over the ranks of `group` (engine/ops/batch_norm.h: BatchNormParams::sync);
  // null: this process's batch alone (the default). The group must outlive the layer's use.
  void set_sync(Communicator* group) { sync_ = group; }
  double eps() const { return eps_; }
  // Folded into the convolution before it (layers/conv_bn.h): forward returns its input unchanged, in eval
  // mode only (it throws in training mode).
  void set_folded() { folded_ = true; }
  bool folded() const { return folded_; }

 private:
  Tensor run(const Tensor& x, const Tensor* relu_residual);
  int64_t channels_;
  double momentum_, eps_;
  Communicator* sync_ = nullptr;
  bool folded_ = false;
  Tensor *weight_, *bias_, *running_mean_, *running_var_, *num_batches_tracked_;
};

// set_sync(group) on every BatchNorm2d of `model`; returns how many.
int synchronize_batch_norm(Module& model, Communicator* group);

}  // namespace pleura
