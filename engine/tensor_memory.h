// The bytes of CPU tensor storage alive now and the most alive at once since the last reset: what the
// tensors themselves hold, without the host allocator's cache (engine/host_allocator.h) or the process's other
// memory. Counted by Storage (engine/tensor.cpp) as it allocates and frees; process-wide, atomic. Used by the
// tests of what backward keeps (tests/engine/test_saved_activation.cpp) and by bench_unet. CUDA's figures are
// the caching allocator's (engine/cuda_runtime.h's memory statistics).
// And, while enabled, the bytes alive on each device by the op that allocated them (bench_unet
// --held-by-op: what the forward pass leaves held for backward, op by op). Implemented in engine/tensor.cpp
// (the counts) and engine/tensor_memory.cpp (the ops' ledger); tests: tests/engine/test_tensor_memory.cpp.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/device.h"

namespace pleura {

struct CpuTensorMemory {
  size_t bytes_in_use = 0;
  size_t peak_bytes_in_use = 0;
};
CpuTensorMemory cpu_tensor_memory();
// Starts the peak again from what is in use now.
void reset_cpu_tensor_peak();

// Starts (or stops, forgetting everything) the ledger of storage by op. Only storage allocated while it runs
// is in it: enable it before the work to observe. Costs a lock and a map update per allocation while on.
void set_tensor_memory_by_op(bool enabled);
struct OpBytes {
  // engine/alloc_context.h's current op, "outer/inner" inside another op, "... backward" in a backward step,
  // or "(no op)"
  std::string op;
  size_t bytes = 0;
};
// The ledger's bytes alive on `device` now, by op, largest first.
std::vector<OpBytes> tensor_memory_by_op(Device device);

// Storage's calls (engine/tensor.cpp): an allocation of `bytes` at `key` on `device`, and its release.
void note_storage_alloc(const void* key, size_t bytes, Device device);
void note_storage_free(const void* key);

}  // namespace pleura
