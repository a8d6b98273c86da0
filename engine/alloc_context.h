// What memory is being asked for, for out-of-memory messages (engine/block_pool.h, engine/host_allocator.h):
// the op or backward step running on this thread (set by PLEURA_DISPATCH in engine/dispatch.h and by the
// autograd engine), the layer it runs in (set by each layer's forward, layers/module.h, and remembered by
// autograd nodes for their backward step), and what the program is doing, set by the training loop,
// inference and benchmarks ("training albunet at 1024x1024, batch 4"). parallel_for carries the caller's op
// and layer into its worker threads (engine/parallel.cpp). Implementation: engine/alloc_context.cpp; tests:
// tests/engine/test_block_pool.cpp, tests/engine/test_host_allocator.cpp, tests/models/test_registry.cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "engine/error.h"

namespace pleura {

// While alive, `op` (a string literal or a name that outlives the scope) is this thread's current op, in
// its forward or (`backward`) its backward step.
class OpScope {
 public:
  explicit OpScope(const char* op, bool backward = false);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  const char* previous_;
  bool previous_backward_;
};

// This thread's current op, or nullptr; whether it is a backward step.
const char* current_op();
bool current_op_is_backward();
// The outermost op this thread is in (the op a model called, where the current op is one it runs inside,
// as conv2d runs to_bf16_storage), or nullptr.
const char* outermost_op();

// While alive, `layer` (a module's full name, "decoder.center.0.conv"; null for none) is this thread's
// current layer.
using LayerName = std::shared_ptr<const std::string>;
class LayerScope {
 public:
  explicit LayerScope(LayerName layer);
  ~LayerScope();
  LayerScope(const LayerScope&) = delete;
  LayerScope& operator=(const LayerScope&) = delete;

 private:
  LayerName previous_;
};

// This thread's current layer, or null.
const LayerName& current_layer();

// Process-wide: what the program is doing ("" to clear).
void set_workload(const std::string& description);
std::string workload();

// Thrown when memory cannot be had even after the caches were returned (device: engine/block_pool.h,
// cuda/allocator.cu; host: engine/host_allocator.h).
class OutOfMemoryError : public Error {
 public:
  explicit OutOfMemoryError(const std::string& what) : Error(what) {}
};

// "12.5 MiB".
std::string mib_text(size_t bytes);

// The out-of-memory message every allocator gives: "[<memory> alloc] out of memory: asked for <bytes>
// bytes (<rounded> MiB)<allocation_context()>; <state>. Lower ..." where `state` says what the memory
// holds ("cuda:0 has 310.0 MiB free of 80.0 GiB, ...").
std::string out_of_memory_message(const std::string& memory, size_t bytes, size_t rounded, const std::string& state);

// " during conv2d in layer encoder.conv1 (training albunet at 1024x1024, batch 4)" (" during conv2d
// backward ..." in a backward step), or "" when nothing is known.
std::string allocation_context();

}  // namespace pleura
