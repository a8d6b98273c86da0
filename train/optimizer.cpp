// Adam and gradient clipping (optimizer.h).
#include "train/optimizer.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/adam.h"
#include "engine/ops/squared_norm.h"
#include "engine/ops/step_ledger_math.h"

namespace pleura {

Adam::Adam(std::vector<Tensor*> params, AdamOptions options)
    : params_(std::move(params)), state_(params_.size()), options_(options) {
  for (size_t i = 0; i < params_.size(); ++i)
    PLEURA_CHECK(params_[i] != nullptr && params_[i]->defined(), "[adam] parameter ", i, " is undefined");
}

void Adam::step(const Tensor& ledger) {
  NoGradGuard no_grad;
  AdamTensors t;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = *params_[i];
    if (!p.requires_grad()) continue;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    ParamState& st = state_[i];
    if (!st.exp_avg.defined()) {
      st.exp_avg = Tensor::zeros_like(p);
      st.exp_avg_sq = Tensor::zeros_like(p);
    }
    t.params.push_back(p);
    t.grads.push_back(g);
    t.exp_avgs.push_back(st.exp_avg);
    t.exp_avg_sqs.push_back(st.exp_avg_sq);
    t.step_slots.push_back(static_cast<int64_t>(i));
  }
  if (t.params.empty()) return;
  if (!counts_on_device_) {  // upload the counts (checkpoints may have set them)
    std::vector<double> counts;
    for (const ParamState& st : state_) counts.push_back(static_cast<double>(st.step));
    const Tensor host = Tensor::from_vector(counts, Shape{static_cast<int64_t>(counts.size())}, DType::kFloat64);
    const Device device = t.params.front().device();
    // Into the same memory when there is one: a captured training step (train/captured_steps.h) refers to it.
    if (steps_.defined() && steps_.device() == device)
      steps_.copy_from(host);
    else
      steps_ = upload(host, device);
    counts_on_device_ = true;
  }
  adam_multi_step(t, steps_, ledger, options_);
}

void Adam::step(double grad_scale) {
  Device device = Device::cpu();
  for (Tensor* p : params_)
    if (p->requires_grad() && p->grad().defined()) device = p->device();
  StepLedger applied;
  applied.grad_scale = grad_scale;
  applied.apply = 1.0;
  step(make_step_ledger(applied, device));
}

std::vector<Adam::ParamState>& Adam::state() {
  if (counts_on_device_) {
    const std::vector<double> counts = steps_.to_vector();  // the one host read
    for (size_t i = 0; i < state_.size(); ++i) state_[i].step = static_cast<int64_t>(counts[i]);
    counts_on_device_ = false;  // the caller may change them: the next step uploads them again
  }
  return state_;
}

void Adam::zero_grad() {
  for (Tensor* p : params_) p->zero_grad();
}

std::vector<Tensor> defined_grads(const std::vector<Tensor*>& params) {
  std::vector<Tensor> grads;
  for (Tensor* p : params) {
    Tensor g = p->grad();
    if (g.defined()) grads.push_back(g);
  }
  return grads;
}

void decide_and_step(Adam& adam, Tensor& ledger, const Tensor& loss, const StepRule& rule) {
  NoGradGuard no_grad;
  const std::vector<Tensor> grads = defined_grads(adam.params());
  // No gradient at all (every parameter frozen): a norm of zero, as grad_norm's.
  const Tensor squares = grads.empty() ? Tensor::zeros(Shape{1}, DType::kFloat64, ledger.device()) : squared_norm(grads);
  ledger_record_batch(ledger, loss, squares, rule);
  adam.step(ledger);
}

double grad_norm(const std::vector<Tensor*>& params) {
  NoGradGuard no_grad;
  const std::vector<Tensor> grads = defined_grads(params);
  if (grads.empty()) return 0.0;
  return std::sqrt(squared_norm(grads).item());
}

double clip_factor(double norm, double max_norm) {
  PLEURA_CHECK(max_norm > 0, "[clip] max_norm is ", max_norm, ", expected > 0");
  return ledger_math::clip_factor(norm, max_norm);
}

}  // namespace pleura
