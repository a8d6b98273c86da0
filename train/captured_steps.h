// Training batches replayed as CUDA graphs ([run] cuda_graphs, train/train_config.h): a CapturedFunction
// (engine/captured_function.h) around one batch's device work that also keeps the model's host-side
// counters (BatchNorm2d's num_batches_tracked, which a replay does not touch: no host code runs) advancing
// as a plain batch advances them. train/train_epoch.cpp makes one per epoch, since the graph refers to
// that epoch's step ledger and buffer snapshot. Implementation in train/captured_steps.cpp, tests in
// tests/train/test_captured_steps.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/captured_function.h"
#include "layers/module.h"

namespace pleura {

class CapturedSteps {
 public:
  // The device work of one batch, (images, masks) -> its loss; the same work on every call (no host value
  // that changes between batches may steer it).
  using Step = std::function<Tensor(const Tensor& images, const Tensor& masks)>;

  // model's host buffers must be one-element int64 counters (else throws, naming the buffer).
  CapturedSteps(Module& model, Step step, CapturedFunction::Note note);

  // The batch's loss (on a replay, the graph's tensor: read it before the next call). The first call runs
  // the step as it is and measures how much it advances each host counter; every later call leaves each
  // counter at its value before the call plus that amount, whether the step was replayed (nothing ran on
  // the host), run as it is, or captured and then replayed. After the call that made the graph, the
  // memory cached from the plain batches goes back to the device (the graph keeps its own).
  Tensor operator()(const Tensor& images, const Tensor& masks);

  // Calls answered by a replay, and whether a graph exists (for logs and tests).
  int64_t replays() const { return function_.replays(); }
  bool captured() const { return function_.graphs() > 0; }

 private:
  std::vector<int64_t> counts() const;

  std::vector<Tensor*> counters_;
  std::vector<int64_t> per_batch_;  // measured on the first call
  bool measured_ = false;
  CapturedFunction function_;
};

}  // namespace pleura
