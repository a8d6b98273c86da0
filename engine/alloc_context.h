// What memory is being asked for, for out-of-memory messages (engine/block_pool.h): the op or backward
// step running on this thread (set by PLEURA_DISPATCH in engine/dispatch.h and by the autograd engine),
// and what the program is doing, set by the training loop, inference and benchmarks
// ("training albunet at 1024x1024, batch 4"). Implementation: engine/alloc_context.cpp; test:
// tests/engine/test_block_pool.cpp.
#pragma once

#include <string>

namespace pleura {

// While alive, `op` (a string literal or a name that outlives the scope) is this thread's current op.
class OpScope {
 public:
  explicit OpScope(const char* op);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  const char* previous_;
};

// This thread's current op, or nullptr.
const char* current_op();

// Process-wide: what the program is doing ("" to clear).
void set_workload(const std::string& description);
std::string workload();

// " during conv2d (training albunet at 1024x1024, batch 4)", or "" when nothing is known.
std::string allocation_context();

}  // namespace pleura
