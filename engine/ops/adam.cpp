// adam_step entry point: checks and dispatch.
#include "engine/ops/adam.h"

#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s) {
  const OpScope op_scope("adam_step");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_float(param, "adam_step", "param");
  for (const auto& [t, name] : {std::pair<const Tensor*, const char*>{&grad, "grad"}, {&exp_avg, "exp_avg"},
                                {&exp_avg_sq, "exp_avg_sq"}}) {
    check_defined(*t, "adam_step", name);
    check_same_place(*t, param, "adam_step", name, "param");
    check_same_shape(*t, param, "adam_step", name, "param");
  }
  PLEURA_CHECK(s.step >= 1, "[adam_step] step is ", s.step, ", expected >= 1");
  PLEURA_CHECK(s.beta1 >= 0 && s.beta1 < 1 && s.beta2 >= 0 && s.beta2 < 1, "[adam_step] betas (", s.beta1, ", ",
               s.beta2, ") must lie in [0, 1)");
  PLEURA_CHECK(s.lr >= 0 && s.eps >= 0 && s.weight_decay >= 0, "[adam_step] lr ", s.lr, ", eps ", s.eps,
               " and weight_decay ", s.weight_decay, " must be >= 0");
  PLEURA_DISPATCH(param.device(), "adam_step", adam_step(param, grad, exp_avg, exp_avg_sq, s));
}

}  // namespace pleura
