// SavedActivation (engine/saved_activation.h): when to keep a bfloat16 copy, the copies shared between the
// nodes that keep the same tensor (per thread, looked up by the storage they copy), and the recipes registered
// for tensors that can be computed again (per thread, by storage).
#include "engine/saved_activation.h"

#include <atomic>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "engine/ops/bf16_storage.h"
#include "engine/ops/round_bf16.h"

namespace pleura {

namespace {

// Read at the first use, so that a bad value is an error a tool reports.
std::atomic<bool>& compact_slot() {
  static std::atomic<bool> slot{[] {
    const char* v = std::getenv("PLEURA_SAVED_ACTIVATIONS");
    return parse_saved_activations(v == nullptr ? "" : v);
  }()};
  return slot;
}

// Per-thread entries keyed by a storage, each alive while that storage and what the entry points to are: the
// weak handles tell a live entry from a storage freed and another allocated at the same address. Entry has
// `original` (the storage) and expired() (what it points to is gone).
template <class Entry>
class ByStorage {
 public:
  // The live entry of `storage`, or null.
  const Entry* find(const std::shared_ptr<Storage>& storage) const {
    const auto it = entries_.find(storage.get());
    if (it == entries_.end() || it->second.original.lock() != storage || it->second.expired()) return nullptr;
    return &it->second;
  }
  void add(const std::shared_ptr<Storage>& storage, Entry entry) {
    if (entries_.size() >= 2 * live_after_sweep_ + 64) sweep();
    entries_[storage.get()] = std::move(entry);
  }
  void erase(const std::shared_ptr<Storage>& storage) { entries_.erase(storage.get()); }

 private:
  void sweep() {
    for (auto it = entries_.begin(); it != entries_.end();)
      it = it->second.original.expired() || it->second.expired() ? entries_.erase(it) : std::next(it);
    live_after_sweep_ = entries_.size();
  }
  std::unordered_map<const Storage*, Entry> entries_;
  size_t live_after_sweep_ = 0;
};

// A storage's bfloat16 copy, shared by the nodes that keep the storage's tensor.
struct SharedCopy {
  std::weak_ptr<Storage> original;
  std::weak_ptr<Storage> copy;
  bool expired() const { return copy.expired(); }
};

ByStorage<SharedCopy>& shared_copies() {
  thread_local ByStorage<SharedCopy> copies;
  return copies;
}

// A storage's recipe, for tensors of `shape` only (a view of another shape is something else to keep). The
// recipe belongs to the op's backward node and to the nodes that took it, not to this list.
struct RegisteredRecipe {
  std::weak_ptr<Storage> original;
  Shape shape;
  std::weak_ptr<const ActivationRecipe> recipe;
  bool expired() const { return recipe.expired(); }
};

ByStorage<RegisteredRecipe>& recipes() {
  thread_local ByStorage<RegisteredRecipe> r;
  return r;
}

// t's recipe, or null.
std::shared_ptr<const ActivationRecipe> recipe_of(const Tensor& t) {
  const RegisteredRecipe* r = recipes().find(t.impl().storage);
  return r != nullptr && r->shape == t.shape() ? r->recipe.lock() : nullptr;
}

// Whether a node keeping t under this policy may keep it as bfloat16.
bool may_compact(const Tensor& t, bool bf16) { return bf16 && SavedActivation::may_recompute(t); }

// t's data as a bfloat16 tensor of t's shape: the copy another node keeps, or a new one.
Tensor bf16_copy(const Tensor& t) {
  const std::shared_ptr<Storage>& storage = t.impl().storage;
  const SharedCopy* shared = shared_copies().find(storage);
  if (std::shared_ptr<Storage> copy = shared != nullptr ? shared->copy.lock() : nullptr) {
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = t.shape();
    impl->dtype = DType::kBFloat16;
    impl->storage = std::move(copy);
    return Tensor(std::move(impl));
  }
  Tensor copy = to_bf16_storage(t);
  shared_copies().add(storage, SharedCopy{storage, copy.impl().storage});
  return copy;
}

}  // namespace

bool SavedActivation::compacts(const Tensor& t, SavedUse use, bool bf16) {
  if (!may_compact(t, bf16)) return false;
  return use != SavedUse::kValues || t.impl().bf16_values;
}

bool SavedActivation::may_recompute(const Tensor& t) {
  return compact_slot().load() && t.defined() && t.dtype() == DType::kFloat32;
}

SavedActivation::SavedActivation(const Tensor& t, SavedUse use, bool bf16)
    : as_bf16_copy_(bf16 && use != SavedUse::kValues) {
  if (may_recompute(t)) recipe_ = recipe_of(t);
  if (recipe_ == nullptr) kept_ = compacts(t, use, bf16) ? bf16_copy(t) : (t.defined() ? t.detach() : Tensor());
}

Tensor SavedActivation::get() const {
  if (recipe_ != nullptr) {
    Tensor t = recipe_->recompute();
    if (as_bf16_copy_) round_bf16_inplace(t);  // the values of the bfloat16 copy
    return t;
  }
  return compact() ? from_bf16_storage(kept_) : kept_;
}

Tensor SavedActivation::kept() const {
  if (recipe_ == nullptr) return kept_;
  return as_bf16_copy_ ? to_bf16_storage(recipe_->recompute()) : recipe_->recompute();
}

void register_recipe(const Tensor& t, const std::shared_ptr<const ActivationRecipe>& recipe) {
  recipes().add(t.impl().storage, RegisteredRecipe{t.impl().storage, t.shape(), recipe});
}

void forget_recipe(const Tensor& t) {
  if (t.defined()) recipes().erase(t.impl().storage);
}

bool parse_saved_activations(const std::string& value) {
  PLEURA_CHECK(value.empty() || value == "bf16" || value == "float32", "PLEURA_SAVED_ACTIVATIONS is '", value,
               "', expected bf16 (the default: activations kept as bfloat16 under the bf16 policy) or float32");
  return value != "float32";
}

void set_compact_saved_activations(bool on) { compact_slot() = on; }
bool compact_saved_activations() { return compact_slot().load(); }

bool has_saved_bf16_copy(const Tensor& t) {
  return t.defined() &&
         (shared_copies().find(t.impl().storage) != nullptr || recipes().find(t.impl().storage) != nullptr);
}

}  // namespace pleura
