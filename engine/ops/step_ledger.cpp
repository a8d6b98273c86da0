// Step ledger entry points (engine/ops/step_ledger.h): checks and dispatch.
#include "engine/ops/step_ledger.h"

#include <cstring>

#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {

void check_ledger(const Tensor& ledger, const char* op) {
  check_defined(ledger, op, "ledger");
  PLEURA_CHECK(ledger.dtype() == DType::kFloat64 && ledger.numel() == kStepLedgerFields, "[", op,
               "] ledger is ", dtype_name(ledger.dtype()), ledger.shape().str(), ", expected float64 with ",
               kStepLedgerFields, " elements (make_step_ledger)");
}

void check_one_element(const Tensor& t, const Tensor& ledger, const char* op, const char* arg) {
  PLEURA_CHECK(t.numel() == 1, "[", op, "] ", arg, " has ", t.numel(), " elements, expected 1");
  PLEURA_CHECK(t.device() == ledger.device(), "[", op, "] ", arg, " is on ", t.device().str(),
               ", the ledger on ", ledger.device().str());
}

}  // namespace

Tensor make_step_ledger(const StepLedger& initial, Device device) {
  Tensor host = Tensor::empty(Shape{kStepLedgerFields}, DType::kFloat64, Device::cpu());
  std::memcpy(host.raw(), &initial, sizeof(StepLedger));
  return upload(host, device);
}

StepLedger read_step_ledger(const Tensor& ledger) {
  check_ledger(ledger, "read_step_ledger");
  const std::vector<double> values = ledger.to_vector();  // the one host read
  StepLedger l;
  std::memcpy(static_cast<void*>(&l), values.data(), sizeof(StepLedger));
  return l;
}

void ledger_record_batch(Tensor& ledger, const Tensor& loss, const Tensor& squared_norm, const StepRule& rule) {
  const OpScope op_scope("ledger_record_batch");
  check_ledger(ledger, "ledger_record_batch");
  check_defined(loss, "ledger_record_batch", "loss");
  check_one_element(loss, ledger, "ledger_record_batch", "loss");
  PLEURA_CHECK(loss.dtype() == DType::kFloat32 || loss.dtype() == DType::kFloat64,
               "[ledger_record_batch] loss is ", dtype_name(loss.dtype()), ", expected float32 or float64");
  if (squared_norm.defined()) {
    check_one_element(squared_norm, ledger, "ledger_record_batch", "squared_norm");
    PLEURA_CHECK(squared_norm.dtype() == DType::kFloat64, "[ledger_record_batch] squared_norm is ",
                 dtype_name(squared_norm.dtype()), ", expected float64");
  }
  PLEURA_CHECK(rule.max_norm >= 0 && rule.max_skipped_in_a_row >= 1, "[ledger_record_batch] max_norm ", rule.max_norm,
               " (expected >= 0) or max_skipped_in_a_row ", rule.max_skipped_in_a_row, " (expected >= 1) out of range");
  PLEURA_DISPATCH(ledger.device(), "ledger_record_batch", ledger_record_batch(ledger, loss, squared_norm, rule));
}

void ledger_restore_if_skipped(const Tensor& ledger, std::vector<Tensor>& buffers, const std::vector<Tensor>& saved) {
  const OpScope op_scope("ledger_restore_if_skipped");
  check_ledger(ledger, "ledger_restore_if_skipped");
  PLEURA_CHECK(buffers.size() == saved.size(), "[ledger_restore_if_skipped] ", buffers.size(), " buffers but ",
               saved.size(), " saved copies");
  for (size_t i = 0; i < buffers.size(); ++i) {
    check_defined(buffers[i], "ledger_restore_if_skipped", "buffer");
    check_same_place(saved[i], buffers[i], "ledger_restore_if_skipped", "saved", "buffer");
    check_same_shape(saved[i], buffers[i], "ledger_restore_if_skipped", "saved", "buffer");
    PLEURA_CHECK(buffers[i].device() == ledger.device(), "[ledger_restore_if_skipped] buffer ", i, " is on ",
                 buffers[i].device().str(), ", the ledger on ", ledger.device().str());
  }
  PLEURA_DISPATCH(ledger.device(), "ledger_restore_if_skipped", ledger_restore_if_skipped(ledger, buffers, saved));
}

}  // namespace pleura
