// SavedActivation (engine/saved_activation.h): when to keep a bfloat16 copy, and the copies shared between the
// nodes that keep the same tensor (per thread, looked up by the storage they copy).
#include "engine/saved_activation.h"

#include <atomic>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "engine/ops/bf16_storage.h"

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

// A storage's bfloat16 copy, while both are alive: the weak handles tell a live entry from a storage freed and
// another allocated at the same address.
struct SharedCopy {
  std::weak_ptr<Storage> original;
  std::weak_ptr<Storage> copy;
};

class SharedCopies {
 public:
  // The live copy of `storage`, or null.
  std::shared_ptr<Storage> find(const std::shared_ptr<Storage>& storage) const {
    const auto it = copies_.find(storage.get());
    if (it == copies_.end() || it->second.original.lock() != storage) return nullptr;
    return it->second.copy.lock();
  }
  void add(const std::shared_ptr<Storage>& storage, const std::shared_ptr<Storage>& copy) {
    if (copies_.size() >= 2 * live_after_sweep_ + 64) sweep();
    copies_[storage.get()] = SharedCopy{storage, copy};
  }

 private:
  void sweep() {
    for (auto it = copies_.begin(); it != copies_.end();)
      it = it->second.original.expired() || it->second.copy.expired() ? copies_.erase(it) : std::next(it);
    live_after_sweep_ = copies_.size();
  }
  std::unordered_map<const Storage*, SharedCopy> copies_;
  size_t live_after_sweep_ = 0;
};

SharedCopies& shared_copies() {
  thread_local SharedCopies copies;
  return copies;
}

// t's data as a bfloat16 tensor of t's shape: the copy another node keeps, or a new one.
Tensor bf16_copy(const Tensor& t) {
  const std::shared_ptr<Storage>& storage = t.impl().storage;
  if (std::shared_ptr<Storage> copy = shared_copies().find(storage)) {
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = t.shape();
    impl->dtype = DType::kBFloat16;
    impl->storage = std::move(copy);
    return Tensor(std::move(impl));
  }
  Tensor copy = to_bf16_storage(t);
  shared_copies().add(storage, copy.impl().storage);
  return copy;
}

}  // namespace

bool SavedActivation::compacts(const Tensor& t, SavedUse use, bool bf16) {
  if (!bf16 || !compact_slot().load() || !t.defined() || t.dtype() != DType::kFloat32) return false;
  return use != SavedUse::kValues || t.impl().bf16_values;
}

SavedActivation::SavedActivation(const Tensor& t, SavedUse use, bool bf16)
    : kept_(compacts(t, use, bf16) ? bf16_copy(t) : (t.defined() ? t.detach() : Tensor())) {}

Tensor SavedActivation::get() const { return compact() ? from_bf16_storage(kept_) : kept_; }

bool parse_saved_activations(const std::string& value) {
  PLEURA_CHECK(value.empty() || value == "bf16" || value == "float32", "PLEURA_SAVED_ACTIVATIONS is '", value,
               "', expected bf16 (the default: activations kept as bfloat16 under the bf16 policy) or float32");
  return value != "float32";
}

void set_compact_saved_activations(bool on) { compact_slot() = on; }
bool compact_saved_activations() { return compact_slot().load(); }

bool has_saved_bf16_copy(const Tensor& t) {
  return t.defined() && shared_copies().find(t.impl().storage) != nullptr;
}

}  // namespace pleura
