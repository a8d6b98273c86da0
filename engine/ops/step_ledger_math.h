// The decisions of the step ledger (engine/ops/step_ledger.h), compiled into both cpu/step_ledger.cpp and
// cuda/step_ledger.cu (one thread there), so that both backends decide the same step. Only IEEE double
// +, /, sqrt and comparisons: correctly rounded on both, no contraction into FMAs possible.
#pragma once

#include <cmath>

#include "engine/ops/exact_math.h"
#include "engine/ops/step_ledger.h"

namespace pleura::ledger_math {

PLEURA_HOST_DEVICE inline bool finite(double x) { return x - x == 0.0; }  // false for NaN and +-inf

// torch.nn.utils.clip_grad_norm_'s factor: max_norm / (norm + 1e-6), capped at 1.
PLEURA_HOST_DEVICE inline double clip_factor(double norm, double max_norm) {
  const double f = max_norm / (norm + 1e-6);
  return f < 1.0 ? f : 1.0;
}

PLEURA_HOST_DEVICE inline void count_loss(StepLedger& l, double loss) {
  l.loss_sum += loss;
  l.loss_count += 1.0;
}

// A batch inside a grad_accum window.
PLEURA_HOST_DEVICE inline void record_window_batch(StepLedger& l, double loss) {
  if (finite(loss))
    count_loss(l, loss);
  else
    l.window_bad = 1.0;
}

// The batch that ends a window: decides the step (see ledger_record_batch in step_ledger.h).
PLEURA_HOST_DEVICE inline void record_step_batch(StepLedger& l, double loss, double squared_norm, const StepRule& rule,
                                                 double batch) {
  const double norm = sqrt(squared_norm);
  const bool losses_finite = l.window_bad == 0.0 && finite(loss);
  l.grad_norm = norm;
  l.window_bad = 0.0;
  if (losses_finite && finite(norm)) {
    l.grad_scale = rule.max_norm > 0.0 ? clip_factor(norm, rule.max_norm) : 1.0;
    l.apply = 1.0;
    l.skipped_in_a_row = 0.0;
  } else {
    l.grad_scale = 0.0;
    l.apply = 0.0;
    l.skipped_in_a_row += 1.0;
    l.skipped_total += 1.0;
    l.skipped_since_read += 1.0;
    l.last_skipped_batch = batch;
    l.last_skipped_loss = losses_finite ? loss : NAN;
    l.last_skipped_norm = norm;
    if (l.skipped_in_a_row >= rule.max_skipped_in_a_row) {
      l.gave_up = 1.0;
      l.gave_up_batch = batch;
      return;  // this batch is trained again on --resume: its loss is not counted
    }
  }
  if (finite(loss)) count_loss(l, loss);
}

PLEURA_HOST_DEVICE inline void record_batch(StepLedger& l, double loss, bool ends_window, double squared_norm,
                                            const StepRule& rule) {
  const double batch = l.next_batch;
  l.next_batch += 1.0;
  if (l.gave_up != 0.0) return;  // apply stays 0: nothing changes until the host has read the ledger
  if (ends_window)
    record_step_batch(l, loss, squared_norm, rule, batch);
  else
    record_window_batch(l, loss);
}

}  // namespace pleura::ledger_math
