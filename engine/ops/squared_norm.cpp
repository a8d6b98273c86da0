// squared_norm entry point (engine/ops/squared_norm.h): checks and dispatch.
#include "engine/ops/squared_norm.h"

#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

Tensor squared_norm(const std::vector<Tensor>& tensors) {
  const OpScope op_scope("squared_norm");
  PLEURA_CHECK(!tensors.empty(), "[squared_norm] got no tensor, expected at least one");
  for (const Tensor& t : tensors) {
    check_float(t, "squared_norm", "tensor");
    check_same_place(t, tensors.front(), "squared_norm", "tensor", "the first tensor");
  }
  Tensor out = Tensor::empty(Shape{1}, DType::kFloat64, tensors.front().device());
  PLEURA_DISPATCH(out.device(), "squared_norm", squared_norm(tensors, out));
  return out;
}

}  // namespace pleura
