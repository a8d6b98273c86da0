// adam_step and adam_multi_step entry points (engine/ops/adam.h): checks and dispatch.
#include "engine/ops/adam.h"

#include "engine/dispatch.h"
#include "engine/op_checks.h"
#include "engine/ops/step_ledger.h"

namespace pleura {

namespace {

void check_tensor_set(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                      const char* op) {
  check_float(param, op, "param");
  for (const auto& [t, name] : {std::pair<const Tensor*, const char*>{&grad, "grad"}, {&exp_avg, "exp_avg"},
                                {&exp_avg_sq, "exp_avg_sq"}}) {
    check_defined(*t, op, name);
    check_same_place(*t, param, op, name, "param");
    check_same_shape(*t, param, op, name, "param");
  }
}

void check_hyper(double lr, double beta1, double beta2, double eps, double weight_decay, const char* op) {
  PLEURA_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "[", op, "] betas (", beta1, ", ", beta2,
               ") must lie in [0, 1)");
  PLEURA_CHECK(lr >= 0 && eps >= 0 && weight_decay >= 0, "[", op, "] lr ", lr, ", eps ", eps, " and weight_decay ",
               weight_decay, " must be >= 0");
}

void check_multi(const AdamTensors& t, const Tensor& steps, const Tensor& ledger) {
  const char* op = "adam_multi_step";
  const size_t n = t.params.size();
  PLEURA_CHECK(t.grads.size() == n && t.exp_avgs.size() == n && t.exp_avg_sqs.size() == n && t.step_slots.size() == n,
               "[adam_multi_step] ", n, " params but ", t.grads.size(), " grads, ", t.exp_avgs.size(), " exp_avgs, ",
               t.exp_avg_sqs.size(), " exp_avg_sqs and ", t.step_slots.size(), " step slots");
  check_defined(steps, op, "steps");
  check_defined(ledger, op, "ledger");
  PLEURA_CHECK(steps.dtype() == DType::kFloat64, "[adam_multi_step] steps is ", dtype_name(steps.dtype()),
               ", expected float64");
  PLEURA_CHECK(ledger.dtype() == DType::kFloat64 && ledger.numel() == kStepLedgerFields,
               "[adam_multi_step] ledger is not a step ledger (make_step_ledger)");
  check_same_place(ledger, steps, op, "ledger", "steps");
  std::vector<bool> slot_used(static_cast<size_t>(steps.numel()), false);
  for (size_t i = 0; i < n; ++i) {
    check_tensor_set(t.params[i], t.grads[i], t.exp_avgs[i], t.exp_avg_sqs[i], op);
    check_same_place(t.params[i], t.params.front(), op, "param", "the first param");
    PLEURA_CHECK(t.params[i].device() == steps.device(), "[adam_multi_step] param ", i, " is on ",
                 t.params[i].device().str(), ", steps on ", steps.device().str());
    PLEURA_CHECK(t.params[i].numel() > 0, "[adam_multi_step] param ", i, " is empty");
    const int64_t slot = t.step_slots[i];
    PLEURA_CHECK(slot >= 0 && slot < steps.numel() && !slot_used[static_cast<size_t>(slot)],
                 "[adam_multi_step] step slot ", slot, " of param ", i, " is out of range [0, ", steps.numel(),
                 ") or used twice");
    slot_used[static_cast<size_t>(slot)] = true;
  }
}

}  // namespace

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s) {
  const OpScope op_scope("adam_step");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_tensor_set(param, grad, exp_avg, exp_avg_sq, "adam_step");
  PLEURA_CHECK(s.step >= 1, "[adam_step] step is ", s.step, ", expected >= 1");
  check_hyper(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, "adam_step");
  PLEURA_DISPATCH(param.device(), "adam_step", adam_step(param, grad, exp_avg, exp_avg_sq, s));
}

void adam_multi_step(AdamTensors& t, Tensor& steps, const Tensor& ledger, const AdamHyper& h) {
  const OpScope op_scope("adam_multi_step");
  check_multi(t, steps, ledger);
  check_hyper(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, "adam_multi_step");
  PLEURA_DISPATCH(ledger.device(), "adam_multi_step", adam_multi_step(t, steps, ledger, h));
}

}  // namespace pleura
