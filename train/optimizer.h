// Adam with coupled L2 weight decay (PyTorch's torch.optim.Adam, not AdamW) and global-norm gradient
// clipping, as the reference training loop uses them. The per-element update is the adam_step op
// (engine/ops/adam.h), on the parameters' device. Tests: tests/train/test_optimizer.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace pleura {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adam {
 public:
  struct ParamState {
    Tensor exp_avg, exp_avg_sq;  // created on the first update
    int64_t step = 0;            // updates of this parameter so far
  };

  Adam(std::vector<Tensor*> params, AdamOptions options);

  // Updates every parameter that requires a gradient and has one; the others (frozen, or unused by the
  // forward pass) are left alone: no step, no weight decay, no state, as in PyTorch.
  // grad_scale multiplies every gradient first (the clipping factor).
  void step(double grad_scale = 1.0);
  void zero_grad();

  double lr() const { return options_.lr; }
  void set_lr(double lr) { options_.lr = lr; }
  const AdamOptions& options() const { return options_; }
  const std::vector<Tensor*>& params() const { return params_; }
  // Per-parameter state, in params() order (for checkpoints).
  std::vector<ParamState>& state() { return state_; }

 private:
  std::vector<Tensor*> params_;
  std::vector<ParamState> state_;
  AdamOptions options_;
};

// L2 norm of all gradients together (parameters without a gradient skipped), accumulated in double.
// One host read (engine/counters.h) however many parameters.
double grad_norm(const std::vector<Tensor*>& params);
// torch.nn.utils.clip_grad_norm_'s factor: max_norm / (norm + 1e-6), capped at 1.
double clip_factor(double norm, double max_norm);

}  // namespace pleura
