// The pinned buffer pool (engine/pinned_pool.h). Idle buffers wait in a list per size; a loan takes the
// first of its size whose fence has passed. The pool's state is shared with the deleters of the lent
// buffers, so a buffer coming back after the pool is gone is simply freed.
#include "engine/pinned_pool.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "engine/cuda_runtime.h"

namespace pleura {

struct PinnedPool::State {
  PinnedBackend backend;
  mutable std::mutex mutex;
  std::map<size_t, std::vector<std::unique_ptr<PinnedBuffer>>> idle;  // by size, oldest first
  bool open = true;
  PinnedPoolStats stats;

  bool ready(const PinnedBuffer& b) const { return b.fence() == 0 || backend.fence_passed(b.fence()); }
};

PinnedPool::PinnedPool(PinnedBackend backend) : state_(std::make_shared<State>()) {
  state_->backend = std::move(backend);
}

PinnedPool::~PinnedPool() {
  release_idle();
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->open = false;
  // Buffers whose fence has not passed yet are left to the OS rather than freed under a running copy
  // (dropping a PinnedBuffer object does not free its memory).
  state_->idle.clear();
}

std::shared_ptr<PinnedBuffer> PinnedPool::acquire(size_t bytes) {
  bytes = std::max<size_t>(bytes, 1);
  std::unique_ptr<PinnedBuffer> buffer;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    auto it = state_->idle.find(bytes);
    if (it != state_->idle.end()) {
      auto& list = it->second;
      auto ready = std::find_if(list.begin(), list.end(), [&](const auto& b) { return state_->ready(*b); });
      if (ready != list.end()) {
        buffer = std::move(*ready);
        list.erase(ready);
        buffer->set_fence(0);
        ++state_->stats.reuses;
        --state_->stats.idle;
        state_->stats.idle_bytes -= static_cast<int64_t>(bytes);
      }
    }
  }
  if (!buffer) {
    buffer = std::make_unique<PinnedBuffer>(state_->backend.alloc(bytes), bytes);
    std::lock_guard<std::mutex> lock(state_->mutex);
    ++state_->stats.allocations;
  }
  std::lock_guard<std::mutex> lock(state_->mutex);
  ++state_->stats.lent;
  std::shared_ptr<State> state = state_;
  return std::shared_ptr<PinnedBuffer>(buffer.release(), [state](PinnedBuffer* b) {
    std::unique_ptr<PinnedBuffer> back(b);
    std::lock_guard<std::mutex> lock(state->mutex);
    --state->stats.lent;
    if (!state->open) {  // the pool is gone: free it (unless a copy may still run from it)
      if (state->ready(*back)) state->backend.free(back->data());
      return;
    }
    ++state->stats.idle;
    state->stats.idle_bytes += static_cast<int64_t>(back->bytes());
    state->idle[back->bytes()].push_back(std::move(back));
  });
}

void PinnedPool::release_idle() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (auto& [bytes, list] : state_->idle) {
    auto keep = std::stable_partition(list.begin(), list.end(), [&](const auto& b) { return !state_->ready(*b); });
    for (auto it = keep; it != list.end(); ++it) {
      state_->backend.free((*it)->data());
      --state_->stats.idle;
      state_->stats.idle_bytes -= static_cast<int64_t>(bytes);
    }
    list.erase(keep, list.end());
  }
}

PinnedPoolStats PinnedPool::stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stats;
}

PinnedPool& cuda_pinned_pool() {
  static PinnedPool* pool = new PinnedPool(PinnedBackend{
      [](size_t bytes) { return cuda::alloc_pinned(bytes); }, [](void* p) { cuda::free_pinned(p); },
      [](uint64_t fence) { return cuda::fence_passed(fence); }});
  return *pool;
}

}  // namespace pleura
