// The backward pass: topological walk over the nodes reachable from a scalar, gradient accumulation
// into leaves (and the gradient-ready hook), release of saved tensors. Also grad mode and node
// attachment. Test: tests/engine/test_autograd.cpp.
#include "engine/autograd.h"

#include <unordered_map>

#include "engine/alloc_context.h"
#include "engine/dispatch.h"
#include "engine/ops/add.h"
#include "engine/saved_activation.h"

namespace pleura {

namespace {
thread_local bool g_grad_enabled = true;
thread_local GradReadyHook* g_hook = nullptr;  // BackwardHookScope's

// out = a + b in a fresh tensor (inputs may alias each other or other gradients).
Tensor sum_of(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty_like(a);
  PLEURA_DISPATCH(a.device(), "backward", add_fwd(a, b, out));
  return out;
}

// The first gradient of a leaf becomes its .grad: taken as it is when nothing else holds its tensor or
// its memory (the usual case, a node's fresh output: no copy, so no device copy per parameter per step),
// else copied (a gradient that is also another input's, as add's backward gives, or a view). Later ones
// are added in place.
void accumulate_leaf(TensorImpl& leaf, Tensor grad) {
  PLEURA_CHECK(grad.shape() == leaf.shape && grad.dtype() == leaf.dtype,
               "[backward] internal error: gradient ", describe(grad), " for a leaf of shape ",
               leaf.shape.str());
  if (!leaf.grad) {
    const bool sole_owner = grad.impl_ptr().use_count() == 1 && grad.impl().storage.use_count() == 1;
    const bool plain = !grad.requires_grad() && grad.is_leaf() && !grad.impl().grad;
    leaf.grad = sole_owner && plain ? grad.impl_ptr() : grad.clone().impl_ptr();
  } else {
    Tensor dst(leaf.grad);
    accumulate_into(dst, grad);
  }
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool can_overwrite(const Tensor& t) {
  return t.defined() && !needs_recording({&t}) && t.impl_ptr().use_count() == 1 &&
         t.impl().storage.use_count() == 1 && !has_saved_bf16_copy(t);
}

bool needs_recording(const std::vector<const Tensor*>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t != nullptr && t->defined() && t->requires_grad()) return true;
  return false;
}

void attach_node(Tensor& output, const std::vector<const Tensor*>& inputs, std::shared_ptr<Node> node) {
  node->edges_.resize(inputs.size());
  node->layer_ = current_layer();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor* t = inputs[i];
    if (t == nullptr || !t->defined() || !t->requires_grad()) continue;
    if (t->is_leaf()) {
      node->edges_[i].leaf = t->impl_ptr();
    } else {
      node->edges_[i].node = t->grad_fn();
    }
  }
  output.impl().grad_fn = std::move(node);
  output.impl().requires_grad = true;
}

void accumulate_into(Tensor& dst, const Tensor& src) {
  PLEURA_DISPATCH(dst.device(), "accumulate", add_fwd(dst, src, dst));
}

namespace {

// The graph below `start`: for every node, how many edges inside the graph point to it; with
// `count_leaves`, the same for the leaves, and the leaves in the order the walk met them.
struct EdgeCounts {
  std::unordered_map<Node*, int> pending;
  std::unordered_map<TensorImpl*, int> leaf_pending;
  std::vector<TensorImpl*> leaves;
};

EdgeCounts count_edges(Node* start, bool count_leaves) {
  EdgeCounts counts;
  std::vector<Node*> stack{start};
  counts.pending[start] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->edges()) {
      if (e.leaf && count_leaves) {
        auto [it, inserted] = counts.leaf_pending.try_emplace(e.leaf.get(), 0);
        ++it->second;
        if (inserted) counts.leaves.push_back(e.leaf.get());
      }
      if (!e.node) continue;
      auto [it, inserted] = counts.pending.try_emplace(e.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(e.node.get());
    }
  }
  return counts;
}

// The seed's gradient for a root that is itself a leaf.
void backward_from_leaf(TensorImpl& root, const Tensor& seed) {
  if (g_hook) g_hook->on_graph({&root});
  accumulate_leaf(root, seed);
  if (g_hook) g_hook->on_ready(&root);
}

}  // namespace

BackwardHookScope::BackwardHookScope(GradReadyHook& hook) : previous_(g_hook) { g_hook = &hook; }
BackwardHookScope::~BackwardHookScope() { g_hook = previous_; }

void run_backward(const Tensor& root) {
  PLEURA_CHECK(root.defined(), "[backward] called on an undefined tensor");
  PLEURA_CHECK(root.requires_grad(), "[backward] ", describe(root),
               " does not require a gradient: no input of its graph requires one, or it was computed "
               "under NoGradGuard");
  PLEURA_CHECK(root.numel() == 1, "[backward] can only start from a one-element tensor (a scalar loss), got ",
               describe(root));
  Tensor seed = Tensor::ones(root.shape(), root.dtype(), root.device());
  if (root.is_leaf()) return backward_from_leaf(root.impl(), seed);
  const char* twice = "[backward] this graph has already been run and its saved tensors freed: "
                      "backward() was called twice (or on a second loss sharing the graph)";
  Node* start = root.grad_fn().get();
  PLEURA_CHECK(!start->released(), twice);
  GradReadyHook* const hook = g_hook;
  EdgeCounts counts = count_edges(start, hook != nullptr);
  if (hook) hook->on_graph(counts.leaves);

  // Run nodes once all their consumers have contributed (Kahn's order, LIFO: deterministic).
  std::unordered_map<Node*, Tensor> grads;
  grads[start] = seed;
  std::vector<Node*> ready{start};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    PLEURA_CHECK(!n->released(), twice);
    Tensor grad_out = std::move(grads[n]);
    grads.erase(n);
    std::vector<Tensor> grad_in;
    {
      // Name the backward step and its layer in out-of-memory messages.
      const OpScope op_scope(n->name(), /*backward=*/true);
      const LayerScope layer_scope(n->layer());
      grad_in = n->apply(grad_out);
    }
    n->release_saved();
    n->released_ = true;
    PLEURA_CHECK(grad_in.size() == n->edges().size(), "[backward] internal error: ", n->name(),
                 " returned ", grad_in.size(), " gradients for ", n->edges().size(), " inputs");
    for (size_t i = 0; i < grad_in.size(); ++i) {
      const Edge& e = n->edges()[i];
      if (!e.needed()) continue;
      PLEURA_CHECK(grad_in[i].defined(), "[backward] internal error: ", n->name(),
                   " gave no gradient for input ", i);
      if (e.leaf) {
        accumulate_leaf(*e.leaf, std::move(grad_in[i]));
        if (hook && --counts.leaf_pending[e.leaf.get()] == 0) hook->on_ready(e.leaf.get());
        continue;
      }
      Node* next = e.node.get();
      auto it = grads.find(next);
      if (it == grads.end()) {
        grads.emplace(next, std::move(grad_in[i]));
      } else {
        it->second = sum_of(it->second, grad_in[i]);
      }
      if (--counts.pending[next] == 0) ready.push_back(next);
    }
  }
}

}  // namespace pleura
