// Module and Sequential (layers/module.h): registration, names in PyTorch's order, modes, freezing,
// device and dtype moves. Tests in tests/layers/test_module.cpp.
#include "layers/module.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "layers/basic.h"
#include "layers/batchnorm.h"
#include "layers/conv.h"

namespace pleura {

void Module::check_new_name(const std::string& name, const char* what) const {
  PLEURA_CHECK(!name.empty() && name.find('.') == std::string::npos, "[module] ", what, " name '", name,
               "' is invalid: expected a non-empty name without '.'");
  bool taken = false;
  for (const Entry& e : parameters_) taken = taken || e.name == name;
  for (const Entry& e : buffers_) taken = taken || e.name == name;
  for (const auto& c : children_) taken = taken || c.first == name;
  PLEURA_CHECK(!taken, "[module] cannot register ", what, " '", name, "': the name is already taken in this module");
}

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name, "parameter");
  PLEURA_CHECK(value.defined() && value.is_leaf() &&
                   (value.dtype() == DType::kFloat32 || value.dtype() == DType::kFloat64),
               "[module] parameter '", name, "' must be a defined floating-point leaf tensor, got ", describe(value));
  value.set_requires_grad(true);
  parameters_.push_back({name, std::move(value), BufferPlacement::kFollowsModule});
  return parameters_.back().tensor;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value, BufferPlacement placement) {
  check_new_name(name, "buffer");
  PLEURA_CHECK(value.defined(), "[module] buffer '", name, "' is an undefined tensor");
  buffers_.push_back({name, std::move(value), placement});
  return buffers_.back().tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name, "module");
  PLEURA_CHECK(child != nullptr, "[module] child module '", name, "' is null");
  children_.emplace_back(name, std::move(child));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedSlots& out) {
  if (params)
    for (Entry& e : parameters_) out.emplace_back(prefix + e.name, &e.tensor);
  if (buffers)
    for (Entry& e : buffers_) out.emplace_back(prefix + e.name, &e.tensor);
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", params, buffers, out);
}

NamedSlots Module::named_parameters() {
  NamedSlots out;
  collect("", true, false, out);
  return out;
}

NamedSlots Module::named_buffers() {
  NamedSlots out;
  collect("", false, true, out);
  return out;
}

std::vector<Tensor*> Module::buffers_placed(BufferPlacement placement) {
  std::vector<Tensor*> out;
  for (Entry& e : buffers_)
    if (e.placement == placement) out.push_back(&e.tensor);
  for (auto& [name, child] : children_) {
    std::vector<Tensor*> theirs = child->buffers_placed(placement);
    out.insert(out.end(), theirs.begin(), theirs.end());
  }
  return out;
}

NamedSlots Module::state_dict_slots() {
  NamedSlots out;
  collect("", true, true, out);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() {
  std::vector<std::pair<std::string, Module*>> out;
  for (auto& [name, child] : children_) out.emplace_back(name, child.get());
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

std::vector<Tensor*> Module::parameters() {
  std::vector<Tensor*> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<Tensor*> Module::trainable_parameters() {
  std::vector<Tensor*> out;
  for (auto& [name, t] : named_parameters())
    if (t->requires_grad()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t->numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

int Module::set_requires_grad(const std::string& prefix, bool on) {
  int matched = 0;
  for (auto& [name, t] : named_parameters()) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    t->set_requires_grad(on);
    if (!on) t->zero_grad();
    ++matched;
  }
  if (matched == 0) {
    std::string top;
    for (auto& c : children_) top += (top.empty() ? "" : ", ") + c.first + ".";
    throw_error(cat("[module] ", on ? "unfreeze" : "freeze", "('", prefix,
                    "'): no parameter name starts with it (top-level modules: ", top, ")"));
  }
  return matched;
}

int Module::freeze(const std::string& prefix) { return set_requires_grad(prefix, false); }
int Module::unfreeze(const std::string& prefix) { return set_requires_grad(prefix, true); }

namespace {
// A fresh leaf holding `moved`, with the requires_grad flag (and gradient, when given) of `old`.
Tensor as_leaf_like(const Tensor& old, Tensor moved, const Tensor& grad) {
  Tensor leaf = moved.detach();
  if (old.requires_grad()) leaf.set_requires_grad(true);
  if (grad.defined()) leaf.impl().grad = grad.impl_ptr();
  return leaf;
}
}  // namespace

void Module::to(Device device) {
  for (Entry& e : parameters_) {
    if (e.tensor.device() == device) continue;
    Tensor grad = e.tensor.grad();
    e.tensor = as_leaf_like(e.tensor, e.tensor.detach().to(device), grad.defined() ? grad.to(device) : Tensor());
  }
  for (Entry& e : buffers_)
    if (e.placement == BufferPlacement::kFollowsModule) e.tensor = e.tensor.to(device);
  after_move();
  for (auto& c : children_) c.second->to(device);
}

void Module::to(DType dtype) {
  PLEURA_CHECK(dtype == DType::kFloat32 || dtype == DType::kFloat64, "[module] to(", dtype_name(dtype),
               "): only float32 and float64 are supported");
  auto is_float = [](const Tensor& t) { return t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64; };
  for (Entry& e : parameters_)
    if (e.tensor.dtype() != dtype) e.tensor = as_leaf_like(e.tensor, e.tensor.detach().to(dtype), Tensor());
  for (Entry& e : buffers_)
    if (is_float(e.tensor) && e.tensor.dtype() != dtype) e.tensor = e.tensor.to(dtype);
  after_move();
  for (auto& c : children_) c.second->to(dtype);
}

void Module::zero_grad() {
  for (Tensor* t : parameters()) t->zero_grad();
}

void Module::name_layers() {
  for (auto& [name, m] : named_modules())
    m->layer_name_ = name.empty() ? nullptr : std::make_shared<const std::string>(name);
}

// A Conv2d followed by a ReLU (with, between them, a BatchNorm2d folded into the Conv2d, layers/conv_bn.h)
// runs as one Conv2d::forward_relu: the same bits, one pass over the activation in inference. Returns how
// many layers from `i` that takes, 0 when the layers there are no such run.
size_t Sequential::conv_relu_run(size_t i) const {
  if (dynamic_cast<Conv2d*>(layers_[i].get()) == nullptr) return 0;
  size_t next = i + 1;
  if (next < layers_.size()) {
    auto* bn = dynamic_cast<BatchNorm2d*>(layers_[next].get());
    if (bn != nullptr && bn->folded()) ++next;
  }
  return next < layers_.size() && dynamic_cast<ReLU*>(layers_[next].get()) != nullptr ? next - i + 1 : 0;
}

Tensor Sequential::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  Tensor y = x;
  for (size_t i = 0; i < layers_.size();) {
    if (const size_t run = conv_relu_run(i); run > 0) {
      y = static_cast<Conv2d&>(*layers_[i]).forward_relu(y);
      i += run;
    } else {
      y = layers_[i++]->forward(y);
    }
  }
  return y;
}

}  // namespace pleura
