// Module: the base of every layer and model. It owns named parameters and buffers and named child
// modules, in registration order, and gives PyTorch's hierarchical names ("encoder.layer1.0.conv1.weight")
// and PyTorch's state_dict() order. Layer is a Module with a one-tensor forward; Sequential chains Layers.
// Implementation in layers/module.cpp, tests in tests/layers/test_module.cpp.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/alloc_context.h"
#include "engine/tensor.h"

namespace pleura {

// Where a buffer lives when the module moves (Module::to(Device)).
enum class BufferPlacement {
  kFollowsModule,  // moved with the parameters (running statistics)
  kHost,           // stays on the CPU: bookkeeping no kernel reads (BatchNorm2d's num_batches_tracked)
};

// A (name, slot) list. Slots point into the module tree and stay valid while the module lives; write a
// loaded value with slot->copy_from(value) (keeps device and requires_grad).
using NamedSlots = std::vector<std::pair<std::string, Tensor*>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Registration, in construction order. Names are non-empty, contain no '.', and are unique within
  // this module across parameters, buffers and children. A parameter is a floating-point leaf; it is
  // marked as requiring a gradient. The returned references stay valid while the module lives.
  Tensor& register_parameter(const std::string& name, Tensor value);
  Tensor& register_buffer(const std::string& name, Tensor value,
                          BufferPlacement placement = BufferPlacement::kFollowsModule);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // Hierarchical names, depth first: this module's own entries first, then each child's in
  // registration order (PyTorch's named_parameters() / named_buffers()).
  NamedSlots named_parameters();
  NamedSlots named_buffers();
  // The buffers that move with the module (BufferPlacement::kFollowsModule: running statistics, on the
  // parameters' device), and the others (kHost: num_batches_tracked), each in named_buffers() order.
  std::vector<Tensor*> device_buffers() { return buffers_placed(BufferPlacement::kFollowsModule); }
  std::vector<Tensor*> host_buffers() { return buffers_placed(BufferPlacement::kHost); }
  // PyTorch's state_dict() order: per module its parameters, then its buffers, then its children.
  NamedSlots state_dict_slots();
  // This module (name "") and every descendant, pre-order (PyTorch's named_modules()).
  std::vector<std::pair<std::string, Module*>> named_modules();
  std::vector<std::pair<std::string, Module*>> named_children();

  // Every parameter, frozen or not, in named_parameters() order. An optimizer must skip those with
  // requires_grad() false (frozen) or without a gradient.
  std::vector<Tensor*> parameters();
  // The parameters with requires_grad() true.
  std::vector<Tensor*> trainable_parameters();
  // Total element count of the parameters.
  int64_t num_parameters();

  // Training mode (batch statistics in BatchNorm2d) or eval mode; applies to every descendant.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // requires_grad off (freeze) or on (unfreeze) for every parameter whose full name starts with
  // `prefix` (e.g. "encoder." or "encoder_stages."). freeze() also drops their accumulated gradients,
  // so that an optimizer that skips parameters without a gradient leaves them untouched. Returns how many
  // parameters matched; throws when none does (a mistyped prefix would otherwise freeze nothing).
  int freeze(const std::string& prefix);
  int unfreeze(const std::string& prefix);

  // Moves parameters and buffers (except BufferPlacement::kHost ones) to `device`, keeping each
  // parameter's requires_grad and moving its gradient along.
  void to(Device device);
  // Converts floating-point parameters and buffers to `dtype` (float32 or float64; CPU only). Integer
  // buffers are left as they are. Gradients are dropped.
  void to(DType dtype);
  // Called on each module after either move has moved its own parameters and buffers: a module that
  // keeps other tensors derived from them (Conv2d's folded weight) moves them here.
  virtual void after_move() {}
  // Drops every parameter's accumulated gradient.
  void zero_grad();

  // Gives this module and every descendant its full name (as named_modules(), the root ""), which a
  // layer's forward makes the thread's current layer (in_layer()) so that out-of-memory messages name it
  // (engine/alloc_context.h). make_model calls it; a module never named has a null name.
  void name_layers();
  const LayerName& layer_name() const { return layer_name_; }
  // The full name for error messages: "encoder.layer1.0.bn1", or "(unnamed)" before name_layers().
  std::string name_for_messages() const { return layer_name_ ? *layer_name_ : std::string("(unnamed)"); }
  // For a forward: `const LayerScope scope = in_layer();`.
  LayerScope in_layer() const { return LayerScope(layer_name_); }

 private:
  struct Entry {
    std::string name;
    Tensor tensor;
    BufferPlacement placement = BufferPlacement::kFollowsModule;
  };
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name, const char* what) const;
  void collect(const std::string& prefix, bool params, bool buffers, NamedSlots& out);
  std::vector<Tensor*> buffers_placed(BufferPlacement placement);
  int set_requires_grad(const std::string& prefix, bool on);

  // deques: references to elements survive later registrations.
  std::deque<Entry> parameters_;
  std::deque<Entry> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  LayerName layer_name_;
  bool training_ = true;
};

// A Module with one input and one output.
class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
};

// PyTorch's nn.Sequential: children named "0", "1", ... applied in order. Parameterless layers (ReLU,
// pooling) take an index too, as in PyTorch, so later indices match the reference names. A name may be
// given instead of the index (nn.Sequential(OrderedDict(...))).
class Sequential : public Layer {
 public:
  template <class L>
  std::shared_ptr<L> append(std::shared_ptr<L> layer, const std::string& name = "") {
    register_module(name.empty() ? std::to_string(layers_.size()) : name, layer);
    layers_.push_back(layer);
    return layer;
  }
  size_t size() const { return layers_.size(); }
  Layer& operator[](size_t i) const { return *layers_.at(i); }
  // The layers in order; a Conv2d followed by a ReLU runs as Conv2d::forward_relu (conv_relu_run).
  Tensor forward(const Tensor& x) override;

 private:
  size_t conv_relu_run(size_t i) const;
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace pleura
