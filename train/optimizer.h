// Adam with coupled L2 weight decay (PyTorch's torch.optim.Adam, not AdamW) and global-norm gradient
// clipping, as the reference training loop uses them. The update is the adam_multi_step op
// (engine/ops/adam.h) on the parameters' device, steered by a step ledger (engine/ops/step_ledger.h) that
// holds the clip factor and whether the step applies: a training step reads nothing back on the host.
// Tests: tests/train/test_optimizer.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/ops/adam.h"
#include "engine/ops/step_ledger.h"
#include "engine/tensor.h"

namespace pleura {

// lr, betas, eps, weight_decay: the op's hyper-parameters (engine/ops/adam.h).
using AdamOptions = AdamHyper;

class Adam {
 public:
  struct ParamState {
    Tensor exp_avg, exp_avg_sq;  // created on the first update
    int64_t step = 0;            // updates of this parameter so far
  };

  Adam(std::vector<Tensor*> params, AdamOptions options);

  // Updates every parameter that requires a gradient and has one, as `ledger` decides: its grad_scale
  // multiplies every gradient first (the clipping factor), and a skipped step (apply 0) changes nothing.
  // The others (frozen, or unused by the forward pass) are left alone: no step, no weight decay, no
  // state, as in PyTorch. A few launches on the parameters' device; no host read.
  void step(const Tensor& ledger);
  // The same, applied, with the multiplier given on the host (tests, tools).
  void step(double grad_scale = 1.0);
  void zero_grad();

  double lr() const { return options_.lr; }
  void set_lr(double lr) { options_.lr = lr; }
  const AdamOptions& options() const { return options_; }
  const std::vector<Tensor*>& params() const { return params_; }
  // Per-parameter state, in params() order (for checkpoints, which may change it). After device steps the
  // step counts live on the device: the first call brings them back, in one host read.
  std::vector<ParamState>& state();

 private:
  std::vector<Tensor*> params_;
  std::vector<ParamState> state_;
  AdamOptions options_;
  // The step counts, float64 [P] on the parameters' device, while counts_on_device_ (then state_'s are
  // stale): step() advances them there, as the ledger decides.
  Tensor steps_;
  bool counts_on_device_ = false;
};

// The parameters' gradients (those defined) as one list.
std::vector<Tensor> defined_grads(const std::vector<Tensor*>& params);

// The optimizer step that ends a training step, without a host read: the squared norm of the gradients of
// adam's parameters, the ledger's decision on it and on the window's losses (ledger_record_batch: the
// clip factor for rule.max_norm, or a skip when anything is not finite) and Adam's update as decided.
void decide_and_step(Adam& adam, Tensor& ledger, const Tensor& loss, const StepRule& rule);

// L2 norm of all gradients together (parameters without a gradient skipped), accumulated in double
// (squared_norm, engine/ops/squared_norm.h). One host read however many parameters.
double grad_norm(const std::vector<Tensor*>& params);
// torch.nn.utils.clip_grad_norm_'s factor: max_norm / (norm + 1e-6), capped at 1 (the ledger's).
double clip_factor(double norm, double max_norm);

}  // namespace pleura
