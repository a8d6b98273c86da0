// The allocation context of alloc_context.h: a thread-local op and layer name and a process-wide workload
// line.
#include "engine/alloc_context.h"

#include <cstdio>
#include <mutex>
#include <utility>

namespace pleura {
namespace {

thread_local const char* t_op = nullptr;
thread_local const char* t_outermost_op = nullptr;
thread_local bool t_backward = false;
thread_local LayerName t_layer;
std::mutex g_workload_mutex;
std::string g_workload;

}  // namespace

OpScope::OpScope(const char* op, bool backward) : previous_(t_op), previous_backward_(t_backward) {
  if (previous_ == nullptr) t_outermost_op = op;
  t_op = op;
  t_backward = backward;
}
OpScope::~OpScope() {
  if (previous_ == nullptr) t_outermost_op = nullptr;
  t_op = previous_;
  t_backward = previous_backward_;
}

const char* current_op() { return t_op; }
bool current_op_is_backward() { return t_backward; }
const char* outermost_op() { return t_outermost_op; }

LayerScope::LayerScope(LayerName layer) : previous_(std::move(t_layer)) { t_layer = std::move(layer); }
LayerScope::~LayerScope() { t_layer = std::move(previous_); }

const LayerName& current_layer() { return t_layer; }

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
  if (const char* op = current_op()) text += cat(" during ", op, t_backward ? " backward" : "");
  if (const LayerName& layer = current_layer()) text += " in layer " + *layer;
  const std::string w = workload();
  if (!w.empty()) text += " (" + w + ")";
  return text;
}

std::string mib_text(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

std::string out_of_memory_message(const std::string& memory, size_t bytes, size_t rounded, const std::string& state) {
  // bf16 mixed precision would halve the activations, but it does not exist yet (issue 13): not suggested.
  return cat("[", memory, " alloc] out of memory: asked for ", bytes, " bytes (", mib_text(rounded), ")",
             allocation_context(), "; ", state,
             ". Lower the batch size ([train] batch_size, --batch) or the image size ([data] size, --size)");
}

}  // namespace pleura
