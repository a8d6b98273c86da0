// Adam and gradient clipping (optimizer.h).
#include "train/optimizer.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/adam.h"
#include "engine/ops/concat.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"

namespace pleura {

Adam::Adam(std::vector<Tensor*> params, AdamOptions options)
    : params_(std::move(params)), state_(params_.size()), options_(options) {
  for (size_t i = 0; i < params_.size(); ++i)
    PLEURA_CHECK(params_[i] != nullptr && params_[i]->defined(), "[adam] parameter ", i, " is undefined");
}

void Adam::step(double grad_scale) {
  NoGradGuard no_grad;
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
    ++st.step;
    AdamStep s{options_.lr, options_.beta1, options_.beta2, options_.eps, options_.weight_decay, st.step, grad_scale};
    adam_step(p, g, st.exp_avg, st.exp_avg_sq, s);
  }
}

void Adam::zero_grad() {
  for (Tensor* p : params_) p->zero_grad();
}

double grad_norm(const std::vector<Tensor*>& params) {
  NoGradGuard no_grad;
  // Per-parameter sums of squares stay on the parameter's device, side by side in one [1, P, 1, 1]
  // tensor that comes back in one read (a GPU step waits once, not P times); the host adds them in
  // double in parameter order, the same sum as reading each one.
  std::vector<Tensor> squares;
  for (Tensor* p : params) {
    Tensor g = p->grad();
    if (g.defined()) squares.push_back(sum(mul(g, g)).view(Shape{1, 1, 1, 1}));
  }
  if (squares.empty()) return 0.0;
  double total = 0.0;
  for (double s : concat(squares).to_vector()) total += s;
  return std::sqrt(total);
}

double clip_factor(double norm, double max_norm) {
  PLEURA_CHECK(max_norm > 0, "[clip] max_norm is ", max_norm, ", expected > 0");
  double f = max_norm / (norm + 1e-6);
  return f < 1.0 ? f : 1.0;
}

}  // namespace pleura
