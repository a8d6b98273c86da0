// The ledger of tensor storage by op (engine/tensor_memory.h; the CPU byte counts live in engine/tensor.cpp).
// Tests: tests/engine/test_tensor_memory.cpp.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <unordered_map>

#include "engine/alloc_context.h"
#include "engine/tensor_memory.h"

namespace pleura {

namespace {

struct LiveStorage {
  std::string op;
  size_t bytes;
  Device device;
};

std::atomic<bool> g_enabled{false};
std::mutex g_mutex;
std::unordered_map<const void*, LiveStorage> g_live;  // guarded by g_mutex

// "outer/inner" where the current op runs inside another ("conv2d/to_bf16_storage"), " backward" added in a
// backward step.
std::string current_op_label() {
  const char* op = current_op();
  if (op == nullptr) return "(no op)";
  const char* outer = outermost_op();
  std::string label = outer != nullptr && std::string(outer) != op ? std::string(outer) + "/" + op : op;
  return current_op_is_backward() ? label + " backward" : label;
}

}  // namespace

void set_tensor_memory_by_op(bool enabled) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_enabled = enabled;
  if (!enabled) g_live.clear();
}

std::vector<OpBytes> tensor_memory_by_op(Device device) {
  std::map<std::string, size_t> sums;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (const auto& [key, s] : g_live)
      if (s.device == device) sums[s.op] += s.bytes;
  }
  std::vector<OpBytes> out;
  for (const auto& [op, bytes] : sums) out.push_back({op, bytes});
  std::stable_sort(out.begin(), out.end(), [](const OpBytes& a, const OpBytes& b) { return a.bytes > b.bytes; });
  return out;
}

void note_storage_alloc(const void* key, size_t bytes, Device device) {
  if (!g_enabled.load(std::memory_order_relaxed)) return;
  std::string op = current_op_label();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_enabled) g_live[key] = LiveStorage{std::move(op), bytes, device};
}

void note_storage_free(const void* key) {
  if (!g_enabled.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_live.erase(key);
}

}  // namespace pleura
