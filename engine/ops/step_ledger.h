// The step ledger: the bookkeeping of training steps kept on the training device, so that a step needs
// no host read (a GPU step then never waits for the device). One float64 tensor laid out as StepLedger;
// the host reads it, in one read, only when it logs (train/train_epoch.cpp, [run] log_every).
// Ops on it: ledger_record_batch (after each batch's backward pass; at the end of a grad_accum window it
// decides the optimizer step: gradient norm, clip factor, skip when anything is non-finite) and
// ledger_restore_if_skipped (puts back the buffers of a skipped step). The decision logic is in
// engine/ops/step_ledger_math.h, compiled into both backends: CPU cpu/step_ledger.cpp, CUDA
// cuda/step_ledger.cu; tests tests/ops/test_step_ledger.cpp. adam_multi_step (engine/ops/adam.h) reads
// the ledger's grad_scale and apply fields.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace pleura {

// Field by field, the float64 values of a ledger tensor (counts are whole numbers held in doubles).
struct StepLedger {
  // The position in the epoch of the batch that the next ledger_record_batch is about (each record moves
  // it on by one): the host sets where the epoch starts, so a step passes no host value that changes.
  double next_batch = 0;
  // Batches since the host last read the ledger (it zeroes these after reading).
  double loss_sum = 0;         // the sum of the finite losses
  double loss_count = 0;       // how many losses were finite
  double skipped_since_read = 0;
  // The open grad_accum window: 1 when one of its losses was not finite.
  double window_bad = 0;
  // The last optimizer step: its gradient norm, the multiplier of its gradients (the clip factor; 0 when
  // skipped) and whether it is applied (1) or skipped (0).
  double grad_norm = 0;
  double grad_scale = 1;
  double apply = 1;
  // Skipped steps: in a row up to now, in all (the fold's counts, TrainingState), and the last one.
  double skipped_in_a_row = 0;
  double skipped_total = 0;
  double last_skipped_batch = -1;
  double last_skipped_loss = 0;  // NaN when a loss of its window was not finite
  double last_skipped_norm = 0;
  // 1 once skipped_in_a_row reached StepRule::max_skipped_in_a_row: every later step is skipped and no
  // later loss is counted, so the model stays as the last good step left it until the host reads this.
  double gave_up = 0;
  double gave_up_batch = -1;
};
constexpr int64_t kStepLedgerFields = static_cast<int64_t>(sizeof(StepLedger) / sizeof(double));

// How a window's end decides its step.
struct StepRule {
  double max_norm = 0;              // global-norm clipping (torch.nn.utils.clip_grad_norm_); 0: off
  double max_skipped_in_a_row = 5;  // [train] max_nonfinite_steps
};

// A ledger tensor on `device` holding `initial` (an upload; no host read).
Tensor make_step_ledger(const StepLedger& initial, Device device);
// The ledger's values (one host read, engine/counters.h).
StepLedger read_step_ledger(const Tensor& ledger);

// After each batch's backward pass (the ledger's next_batch names it in the skip fields). `loss`: its loss, one float element, on the ledger's device.
// When `squared_norm` is undefined, the batch is inside a grad_accum window: a finite loss is added to
// the sums, a non-finite one marks the window bad. When it is defined (one float64 element: the sum of
// the squared gradients, squared_norm in engine/ops/squared_norm.h), the batch ends a window and the
// step is decided: applied, with grad_scale = the clip factor, when the window's losses and the norm are
// finite; else skipped (grad_scale 0, apply 0) and counted; a skip that makes rule.max_skipped_in_a_row
// in a row gives up (then this batch's loss is not counted: the batch comes again on --resume).
void ledger_record_batch(Tensor& ledger, const Tensor& loss, const Tensor& squared_norm, const StepRule& rule);

// When the ledger's last step was skipped, copies each of `saved` over the matching `buffers` entry (same
// shapes and dtypes); otherwise leaves them alone. All on the ledger's device.
void ledger_restore_if_skipped(const Tensor& ledger, std::vector<Tensor>& buffers, const std::vector<Tensor>& saved);

namespace cpu {
void ledger_record_batch(Tensor& ledger, const Tensor& loss, const Tensor& squared_norm, const StepRule& rule);
void ledger_restore_if_skipped(const Tensor& ledger, std::vector<Tensor>& buffers, const std::vector<Tensor>& saved);
}  // namespace cpu
namespace cuda {
void ledger_record_batch(Tensor& ledger, const Tensor& loss, const Tensor& squared_norm, const StepRule& rule);
void ledger_restore_if_skipped(const Tensor& ledger, std::vector<Tensor>& buffers, const std::vector<Tensor>& saved);
}  // namespace cuda

}  // namespace pleura
