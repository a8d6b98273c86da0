// A function of tensors run as a CUDA graph on a GPU (engine/cuda_runtime.h's graph capture): for each
// signature of its inputs (shapes, dtypes, device), the first call runs the function as it is (a warm-up:
// cuDNN's algorithm choices, lazily made caches, the allocator's segments), the second captures it into a
// graph over copies of the inputs that the graph keeps, and every later call copies its inputs into those,
// replays the graph and returns the graph's outputs: the same kernels in the same order as a plain call,
// so the same bits, for one launch instead of hundreds. The outputs of a replay are the graph's own
// tensors, overwritten by the next call with that signature: copy what must outlive it. The function must
// not keep tensors of its own between calls nor depend on host values that change (a replay runs what the
// capture recorded). It runs as it is, on every call: on the CPU; when its warm-up read device values on
// the host (engine/counters.h: a capture cannot hold a wait for the device); and for a signature whose
// capture failed, the reason given to `note` once. One thread; one stream (the device's compute stream).
// Each signature's graph keeps its activations' memory for as long as it lives (a pool of its own).
// Implementation: engine/captured_function.cpp; tests: tests/engine/test_captured_function.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace pleura {

class CapturedFunction {
 public:
  using Fn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
  using Note = std::function<void(const std::string&)>;

  explicit CapturedFunction(Fn fn, Note note = {});
  ~CapturedFunction();
  CapturedFunction(const CapturedFunction&) = delete;
  CapturedFunction& operator=(const CapturedFunction&) = delete;

  // inputs: at least one, all on one device.
  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs);

  // Calls answered by a replay, and the signatures that have a graph (for tests and logs).
  int64_t replays() const { return replays_; }
  size_t graphs() const;

 private:
  struct Entry;
  std::vector<Tensor> warm_up(Entry& e, const std::vector<Tensor>& inputs);
  std::vector<Tensor> capture(Entry& e, const std::vector<Tensor>& inputs);
  void give_up(Entry& e, const std::string& why);

  Fn fn_;
  Note note_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // by signature
  int64_t replays_ = 0;
};

}  // namespace pleura
