// CapturedFunction (engine/captured_function.h): warm-up, capture and replay per input signature.
#include "engine/captured_function.h"

#include <exception>

#include "engine/counters.h"
#include "engine/cuda_runtime.h"
#include "engine/error.h"

namespace pleura {

struct CapturedFunction::Entry {
  int calls = 0;
  bool plain_only = false;       // every call runs the function as it is
  std::vector<Tensor> inputs;    // the graph's copies of the inputs
  std::vector<Tensor> outputs;   // what the graph writes
  void* graph = nullptr;
  int device = 0;
};

namespace {

// "float32[2, 3, 64, 64]@cuda:0;..." : what a graph is specific to.
std::string signature(const std::vector<Tensor>& inputs) {
  std::string s;
  for (const Tensor& t : inputs) s += cat(describe(t), ";");
  return s;
}

}  // namespace

CapturedFunction::CapturedFunction(Fn fn, Note note) : fn_(std::move(fn)), note_(std::move(note)) {}

CapturedFunction::~CapturedFunction() {
  for (auto& [key, e] : entries_) {
    if (e->graph == nullptr) continue;
    // A replay may still be running: its graph goes only after the device has finished it. A destructor
    // must not throw: a device that fails here has failed already, and its error was reported then.
    try {
      cuda::synchronize(e->device);
    } catch (const std::exception&) {
    }
    cuda::destroy_graph(e->graph);
  }
}

size_t CapturedFunction::graphs() const {
  size_t n = 0;
  for (const auto& [key, e] : entries_) n += e->graph != nullptr;
  return n;
}

std::vector<Tensor> CapturedFunction::operator()(const std::vector<Tensor>& inputs) {
  PLEURA_CHECK(!inputs.empty(), "[captured function] called with no input");
  const Device device = inputs.front().device();
  for (const Tensor& t : inputs)
    PLEURA_CHECK(t.device() == device, "[captured function] inputs on two devices: ", describe(inputs.front()),
                 " and ", describe(t));
  if (device.is_cpu()) return fn_(inputs);
  std::unique_ptr<Entry>& slot = entries_[signature(inputs)];
  if (!slot) slot = std::make_unique<Entry>();
  Entry& e = *slot;
  e.device = device.index;
  if (e.graph != nullptr) {
    for (size_t i = 0; i < inputs.size(); ++i) e.inputs[i].copy_from(inputs[i]);
    cuda::replay_graph(e.graph, e.device);
    ++replays_;
    return e.outputs;
  }
  if (e.plain_only) return fn_(inputs);
  return e.calls++ == 0 ? warm_up(e, inputs) : capture(e, inputs);
}

std::vector<Tensor> CapturedFunction::warm_up(Entry& e, const std::vector<Tensor>& inputs) {
  const int64_t reads_before = engine_counters().host_reads;
  std::vector<Tensor> out = fn_(inputs);
  const int64_t reads = engine_counters().host_reads - reads_before;
  if (reads > 0) give_up(e, cat("it read device values on the host ", reads, " time(s)"));
  return out;
}

std::vector<Tensor> CapturedFunction::capture(Entry& e, const std::vector<Tensor>& inputs) {
  // The graph's inputs, made before the capture and kept with it, so that no replay reads freed memory.
  e.inputs.clear();
  for (const Tensor& t : inputs) {
    Tensor copy = Tensor::empty_like(t);
    copy.copy_from(t);
    e.inputs.push_back(std::move(copy));
  }
  try {
    cuda::begin_graph_capture(e.device);
  } catch (const std::exception& error) {
    give_up(e, error.what());
    return fn_(inputs);
  }
  std::vector<Tensor> outputs;
  std::string why;
  try {
    outputs = fn_(e.inputs);
  } catch (const std::exception& error) {
    why = cat("the function failed while captured: ", error.what());
  }
  std::string capture_why;
  void* graph = cuda::end_graph_capture(e.device, capture_why);
  if (why.empty()) why = capture_why;
  if (graph == nullptr || !why.empty()) {
    cuda::destroy_graph(graph);
    give_up(e, why);
    return fn_(inputs);
  }
  e.graph = graph;
  e.outputs = std::move(outputs);
  // The capture ran nothing: the first replay computes this call's outputs.
  cuda::replay_graph(e.graph, e.device);
  ++replays_;
  return e.outputs;
}

void CapturedFunction::give_up(Entry& e, const std::string& why) {
  e.plain_only = true;
  e.inputs.clear();
  e.outputs.clear();
  if (note_) note_(cat("CUDA graph not used for this input shape: ", why, "; running it as it is"));
}

}  // namespace pleura
