// The allocation context of alloc_context.h: a thread-local op name and a process-wide workload line.
#include "engine/alloc_context.h"

#include <mutex>

namespace pleura {
namespace {

thread_local const char* t_op = nullptr;
std::mutex g_workload_mutex;
std::string g_workload;

}  // namespace

OpScope::OpScope(const char* op) : previous_(t_op) { t_op = op; }
OpScope::~OpScope() { t_op = previous_; }

const char* current_op() { return t_op; }

void set_workload(const std::string& description) {
  std::lock_guard<std::mutex> lock(g_workload_mutex);
  g_workload = description;
}

std::string workload() {
  std::lock_guard<std::mutex> lock(g_workload_mutex);
  return g_workload;
}

std::string allocation_context() {
  std::string text;
  if (const char* op = current_op()) text += std::string(" during ") + op;
  const std::string w = workload();
  if (!w.empty()) text += " (" + w + ")";
  return text;
}

}  // namespace pleura
