// round_bf16 entry points (engine/ops/round_bf16.h): checks and dispatch.
#include "engine/ops/round_bf16.h"

#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {
void check_input(const Tensor& x) {
  check_defined(x, "round_bf16", "input");
  PLEURA_CHECK(x.dtype() == DType::kFloat32, "[round_bf16] input is ", describe(x), ", expected float32");
}
}  // namespace

Tensor round_bf16(const Tensor& x) {
  const OpScope op_scope("round_bf16");
  check_input(x);
  Tensor out = Tensor::empty_like(x);
  PLEURA_DISPATCH(x.device(), "round_bf16", round_bf16(x, out));
  return out;
}

void round_bf16_inplace(Tensor& x) {
  const OpScope op_scope("round_bf16");
  check_input(x);
  PLEURA_DISPATCH(x.device(), "round_bf16", round_bf16(x, x));
}

}  // namespace pleura
