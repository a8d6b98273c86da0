// gradcheck_module (tests/layers/layer_checks.h).
#include "tests/layers/layer_checks.h"

#include "engine/autograd.h"
#include "engine/ops/add.h"

namespace pleura::testing {

double gradcheck_module(Module& m, std::vector<Tensor> inputs, const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                        const GradCheckOptions& options) {
  NamedSlots slots = m.named_parameters();
  size_t n_in = inputs.size();
  for (auto& [name, t] : slots) inputs.push_back(t->detach());
  Tensor offset;
  {
    NoGradGuard no_grad;
    std::vector<double> y0 = fn(inputs).to_vector();
    for (double& v : y0) v = -v;
    offset = Tensor::from_vector(y0, fn(inputs).shape(), DType::kFloat64);
  }
  return check_gradients(
      [&](const std::vector<Tensor>& v) {
        for (size_t k = 0; k < slots.size(); ++k) *slots[k].second = v[n_in + k];
        return add(fn(v), offset);
      },
      inputs, options);
}

}  // namespace pleura::testing
