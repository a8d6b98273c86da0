// The engine's counters of the work that costs a GPU step its speed, kept in this one place (engine/
// counters.cpp; test tests/engine/test_counters.cpp): host reads of tensor values, host waits for the
// device, kernel launches and library calls. bench_unet reports them per training step.
//
// Two kinds of count:
// - API counts, the same on every device: a call of Tensor::item(), to_vector() or to(Device::cpu())
//   counts one host read whether the tensor lives on the CPU or on a GPU, so a test on the CPU sees
//   every place where a GPU step would stop and wait for a value.
// - Device counts, CUDA only (zero on the CPU): what the CUDA backend really did (cuda/runtime.cu,
//   cuda/allocator.cu, the launch check in cuda/cuda_check.h, the cuDNN calls in cuda/conv2d.cu).
// The counters are process-wide and atomic (loader threads count their pinned copies too).
#pragma once

#include <cstdint>

namespace pleura {

struct EngineCounters {
  // API counts (every device).
  int64_t host_reads = 0;  // item(), to_vector(), to(Device::cpu())

  // Device counts (CUDA).
  int64_t device_to_host_copies = 0;  // each waits for the stream: a host synchronisation
  int64_t synchronizations = 0;       // explicit stream synchronisations
  int64_t pinned_allocs = 0;          // cudaMallocHost / cudaFreeHost (both can synchronise the device)
  int64_t pinned_frees = 0;
  int64_t device_mallocs = 0;  // cudaMalloc / cudaFree behind the caching allocator (cudaFree synchronises)
  int64_t device_frees = 0;
  int64_t kernel_launches = 0;  // Pleura's own kernels
  int64_t library_calls = 0;    // cuDNN convolution calls (each launches one or more kernels)
  int64_t bf16_library_calls = 0;  // of which on bfloat16 data (tensor cores; engine/precision.h's bf16)
  int64_t copies_and_fills = 0;  // host-to-device and device-to-device copies, memsets
  int64_t graph_launches = 0;    // CUDA graph replays (engine/captured_function.h), each many kernels

  // Every call that makes the host wait for the device.
  int64_t host_syncs() const {
    return device_to_host_copies + synchronizations + pinned_allocs + pinned_frees + device_frees;
  }
  // Everything put on the device's stream (a graph replay counts once).
  int64_t device_operations() const { return kernel_launches + library_calls + copies_and_fills + graph_launches; }
};

// Counts since the start of the process or the last reset.
EngineCounters engine_counters();
void reset_engine_counters();
// b - a, field by field (the counts of what ran between two readings).
EngineCounters counters_between(const EngineCounters& a, const EngineCounters& b);

// Where the engine and its backends count.
enum class Counter {
  kHostRead,
  kDeviceToHostCopy,
  kSynchronization,
  kPinnedAlloc,
  kPinnedFree,
  kDeviceMalloc,
  kDeviceFree,
  kKernelLaunch,
  kLibraryCall,
  kCopyOrFill,
  kBf16LibraryCall,
  kGraphLaunch,
};
void count(Counter what);

}  // namespace pleura
