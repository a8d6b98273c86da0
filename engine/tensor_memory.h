// The bytes of CPU tensor storage alive now and the most alive at once since the last reset: what the
// tensors themselves hold, without the host allocator's cache (engine/host_allocator.h) or the process's other
// memory. Counted by Storage (engine/tensor.cpp) as it allocates and frees; process-wide, atomic. Used by the
// tests of what backward keeps (tests/engine/test_saved_activation.cpp) and by bench_unet. CUDA's figures are
// the caching allocator's (engine/cuda_runtime.h's memory statistics).
#pragma once

#include <cstddef>

namespace pleura {

struct CpuTensorMemory {
  size_t bytes_in_use = 0;
  size_t peak_bytes_in_use = 0;
};
CpuTensorMemory cpu_tensor_memory();
// Starts the peak again from what is in use now.
void reset_cpu_tensor_peak();

}  // namespace pleura
