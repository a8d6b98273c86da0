// CapturedSteps (train/captured_steps.h): a batch's device work as a CUDA graph, host counters kept.
#include "train/captured_steps.h"

#include "engine/cuda_runtime.h"
#include "engine/error.h"

namespace pleura {

namespace {

std::vector<Tensor*> checked_counters(Module& model) {
  std::vector<Tensor*> counters = model.host_buffers();
  for (const Tensor* t : counters)
    PLEURA_CHECK(t->device().is_cpu() && t->dtype() == DType::kInt64 && t->numel() == 1,
                 "[cuda graphs] the model's host buffer ", describe(*t),
                 " is not a one-element int64 counter; a replayed batch can only advance counters");
  return counters;
}

}  // namespace

CapturedSteps::CapturedSteps(Module& model, Step step, CapturedFunction::Note note)
    : counters_(checked_counters(model)),
      function_(
          [step = std::move(step)](const std::vector<Tensor>& in) { return std::vector<Tensor>{step(in[0], in[1])}; },
          std::move(note)) {}

std::vector<int64_t> CapturedSteps::counts() const {
  std::vector<int64_t> values;
  for (const Tensor* t : counters_) values.push_back(t->data<int64_t>()[0]);
  return values;
}

Tensor CapturedSteps::operator()(const Tensor& images, const Tensor& masks) {
  const std::vector<int64_t> before = counts();
  const bool had_graph = captured();
  Tensor loss = function_({images, masks}).front();
  if (!measured_) {
    const std::vector<int64_t> after = counts();
    for (size_t i = 0; i < after.size(); ++i) per_batch_.push_back(after[i] - before[i]);
    measured_ = true;
  } else {
    for (size_t i = 0; i < counters_.size(); ++i) counters_[i]->data<int64_t>()[0] = before[i] + per_batch_[i];
  }
  // The plain batches' activations sit in the allocator's cache, which the replays never use.
  if (!had_graph && captured()) cuda::empty_cache(images.device().index);
  return loss;
}

}  // namespace pleura
