// Device dispatch for op entry points: the one place that chooses the CPU or the CUDA kernel. (Op entry
// points name themselves for out-of-memory messages with an OpScope, engine/alloc_context.h, before they
// allocate their outputs; backward steps are named by the autograd engine.)
// In a build without CUDA the CUDA branch throws "built without CUDA" and references no CUDA symbol.
#pragma once

#include "engine/alloc_context.h"
#include "engine/tensor.h"

namespace pleura {

[[noreturn]] void throw_built_without_cuda(const char* op);

}  // namespace pleura

#if PLEURA_WITH_CUDA
#define PLEURA_DISPATCH(device, op, call)       \
  do {                                          \
    if ((device).is_cuda()) {                   \
      static_cast<void>(op);                    \
      ::pleura::cuda::call;                     \
    } else {                                    \
      ::pleura::cpu::call;                      \
    }                                           \
  } while (0)
#else
#define PLEURA_DISPATCH(device, op, call)       \
  do {                                          \
    if ((device).is_cuda()) {                   \
      ::pleura::throw_built_without_cuda(op);   \
    } else {                                    \
      ::pleura::cpu::call;                      \
    }                                           \
  } while (0)
#endif
