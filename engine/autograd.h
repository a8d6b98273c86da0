// A define-by-run autograd tape. Each op that sees an input requiring a gradient (with grad mode on)
// attaches a Node to its output; Tensor::backward() walks the nodes in reverse order, accumulates
// gradients into the leaves' .grad and releases every node's saved tensors as it goes, telling an
// installed GradReadyHook when each leaf's gradient is final. Tests: tests/engine/test_autograd.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/alloc_context.h"
#include "engine/tensor.h"

namespace pleura {

// Where a node sends the gradient of one of its inputs: the node that produced that input, or the
// leaf tensor itself. Both empty: the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool needed() const { return node != nullptr || leaf != nullptr; }
};

class Node {
 public:
  virtual ~Node() = default;
  // Given the gradient of this node's output, returns one gradient per input, in input order.
  // An entry may be undefined when needs_grad(i) is false.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  // Frees saved tensors (called once the node has run).
  virtual void release_saved() = 0;
  virtual const char* name() const = 0;

  bool needs_grad(size_t input) const { return input < edges_.size() && edges_[input].needed(); }
  const std::vector<Edge>& edges() const { return edges_; }
  bool released() const { return released_; }
  // The layer whose forward made this node (engine/alloc_context.h), for out-of-memory messages; may be null.
  const LayerName& layer() const { return layer_; }

 private:
  friend void attach_node(Tensor& output, const std::vector<const Tensor*>& inputs,
                          std::shared_ptr<Node> node);
  friend void run_backward(const Tensor& root);
  std::vector<Edge> edges_;
  LayerName layer_;
  bool released_ = false;
};

// Grad mode is on by default; NoGradGuard turns it off for its scope (per thread).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when an op on these inputs must be recorded.
bool needs_recording(const std::vector<const Tensor*>& inputs);
// True when an op may write its output over `t`: no graph will record the op, and `t` is the only handle on
// its data (no other Tensor, view or saved tensor shares it, nor a saved bfloat16 copy of it:
// engine/saved_activation.h). Elementwise ops take rvalues and use this, so that inference (no grad) reuses a
// temporary's buffer instead of allocating another of the same size.
bool can_overwrite(const Tensor& t);
// Links `node` to the inputs and makes it output's grad_fn (output then requires a gradient).
void attach_node(Tensor& output, const std::vector<const Tensor*>& inputs, std::shared_ptr<Node> node);

// Records an op: builds the node with make() only when recording is needed.
template <class MakeNode>
void record(Tensor& output, const std::vector<const Tensor*>& inputs, MakeNode make) {
  if (needs_recording(inputs)) attach_node(output, inputs, make());
}

// The backward pass from a one-element tensor (what Tensor::backward() calls).
void run_backward(const Tensor& root);

// Told by the backward passes run on this thread while a BackwardHookScope installs it which leaves
// receive a gradient and when each one's is final, so that work on it (data parallel's gradient sums,
// train/data_parallel.h) can start while the rest of backward runs. Without a hook installed backward
// counts nothing more.
class GradReadyHook {
 public:
  virtual ~GradReadyHook() = default;
  // Once per pass, before any node runs: every leaf that the pass will give a gradient, in the order the
  // graph walk met them.
  virtual void on_graph(const std::vector<TensorImpl*>& leaves) { (void)leaves; }
  // Once per leaf of on_graph, as soon as every edge of the graph into it has delivered: leaf->grad is
  // final for this pass (it includes what earlier passes accumulated), and backward touches it no more.
  // The calls come in the order backward finishes the leaves. An exception stops the backward pass.
  virtual void on_ready(TensorImpl* leaf) = 0;
};

// Installs `hook` for the backward passes run on this thread during its scope (per thread, as grad mode);
// the hook installed before comes back at its end.
class BackwardHookScope {
 public:
  explicit BackwardHookScope(GradReadyHook& hook);
  ~BackwardHookScope();
  BackwardHookScope(const BackwardHookScope&) = delete;
  BackwardHookScope& operator=(const BackwardHookScope&) = delete;

 private:
  GradReadyHook* previous_;
};

// dst += src, elementwise, on dst's device, outside the tape. Used to accumulate gradients.
void accumulate_into(Tensor& dst, const Tensor& src);

}  // namespace pleura
