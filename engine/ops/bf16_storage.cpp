// bf16_storage entry points (engine/ops/bf16_storage.h): checks and dispatch.
#include "engine/ops/bf16_storage.h"

#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {
Tensor converted(const Tensor& x, DType from, DType to, const char* op) {
  const OpScope op_scope(op);
  check_defined(x, op, "input");
  PLEURA_CHECK(x.dtype() == from, "[", op, "] input is ", describe(x), ", expected ", dtype_name(from));
  Tensor out = Tensor::empty(x.shape(), to, x.device());
  if (to == DType::kBFloat16) {
    PLEURA_DISPATCH(x.device(), op, to_bf16_storage(x, out));
  } else {
    PLEURA_DISPATCH(x.device(), op, from_bf16_storage(x, out));
  }
  return out;
}
}  // namespace

Tensor to_bf16_storage(const Tensor& x) {
  return converted(x, DType::kFloat32, DType::kBFloat16, "to_bf16_storage");
}

Tensor from_bf16_storage(const Tensor& x) {
  return converted(x, DType::kBFloat16, DType::kFloat32, "from_bf16_storage");
}

}  // namespace pleura
