// CUDA kernels of the step ledger (engine/ops/step_ledger.h); twin: cpu/step_ledger.cpp. The decision is
// one thread running ledger_math (engine/ops/step_ledger_math.h), the same code as the CPU's; the restore
// is a multi-tensor copy (cuda/multi_tensor.cuh) that does nothing when the step was applied.
#include <array>

#include "cuda/launch.h"
#include "cuda/multi_tensor.cuh"
#include "engine/ops/step_ledger.h"
#include "engine/ops/step_ledger_math.h"

namespace pleura::cuda {

namespace {

template <class L>
__global__ void record_batch_kernel(double* ledger, const L* loss, const double* squared_norm, StepRule rule) {
  StepLedger* l = reinterpret_cast<StepLedger*>(ledger);
  const bool ends_window = squared_norm != nullptr;
  ledger_math::record_batch(*l, static_cast<double>(loss[0]), ends_window, ends_window ? squared_norm[0] : 0.0, rule);
}

// Byte copies saved -> buffer of each listed tensor when the ledger's step was skipped.
__global__ void restore_kernel(const double* ledger, TensorList<2> list) {
  if (reinterpret_cast<const StepLedger*>(ledger)->apply != 0.0) return;
  copy_list_chunk(list);
}

}  // namespace

void ledger_record_batch(Tensor& ledger, const Tensor& loss, const Tensor& squared_norm, const StepRule& rule) {
  const int dev = ledger.device().index;
  DeviceGuard guard(dev);
  const double* norm = squared_norm.defined() ? squared_norm.data<double>() : nullptr;
  if (loss.dtype() == DType::kFloat64)
    record_batch_kernel<<<1, 1, 0, stream(dev)>>>(ledger.data<double>(), loss.data<double>(), norm, rule);
  else
    record_batch_kernel<<<1, 1, 0, stream(dev)>>>(ledger.data<double>(), loss.data<float>(), norm, rule);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void ledger_restore_if_skipped(const Tensor& ledger, std::vector<Tensor>& buffers, const std::vector<Tensor>& saved) {
  if (buffers.empty()) return;
  const int dev = ledger.device().index;
  DeviceGuard guard(dev);
  std::vector<std::array<void*, 2>> data;
  std::vector<int64_t> bytes;
  for (size_t i = 0; i < buffers.size(); ++i) {
    data.push_back({buffers[i].raw(), saved[i].raw()});
    bytes.push_back(static_cast<int64_t>(buffers[i].nbytes()));
  }
  for_each_list<2>(data, bytes, [&](const TensorList<2>& list) {
    restore_kernel<<<list.first_chunk[list.count], kBlockThreads, 0, stream(dev)>>>(ledger.data<double>(), list);
    PLEURA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace pleura::cuda
