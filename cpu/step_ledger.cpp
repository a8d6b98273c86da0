// CPU kernels of the step ledger (engine/ops/step_ledger.h); twin: cuda/step_ledger.cu. The decisions are
// ledger_math's (engine/ops/step_ledger_math.h), shared with the CUDA kernel.
#include <cstring>

#include "engine/ops/step_ledger.h"
#include "engine/ops/step_ledger_math.h"

namespace pleura::cpu {

namespace {

double first_value(const Tensor& t) {
  return t.dtype() == DType::kFloat64 ? t.data<double>()[0] : static_cast<double>(t.data<float>()[0]);
}

StepLedger* ledger_fields(const Tensor& ledger) { return reinterpret_cast<StepLedger*>(ledger.data<double>()); }

}  // namespace

void ledger_record_batch(Tensor& ledger, const Tensor& loss, const Tensor& squared_norm, const StepRule& rule) {
  const bool ends_window = squared_norm.defined();
  ledger_math::record_batch(*ledger_fields(ledger), first_value(loss), ends_window,
                            ends_window ? squared_norm.data<double>()[0] : 0.0, rule);
}

void ledger_restore_if_skipped(const Tensor& ledger, std::vector<Tensor>& buffers, const std::vector<Tensor>& saved) {
  if (ledger_fields(ledger)->apply != 0.0) return;
  for (size_t i = 0; i < buffers.size(); ++i) std::memcpy(buffers[i].raw(), saved[i].raw(), buffers[i].nbytes());
}

}  // namespace pleura::cpu
