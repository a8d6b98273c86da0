// Page-locked (pinned) host buffers for the loader's batches, lent and taken back instead of allocated
// per batch: cudaMallocHost and cudaFreeHost each make the host wait for the device. A buffer that comes
// back while a device copy from it may still be running carries a fence (an event recorded on the stream
// after the copy, engine/cuda_runtime.h): the pool lends it again only once the fence has passed, which
// it asks without waiting. So an upload from pinned memory needs no synchronisation (data/loader.cpp).
// The memory and the fences come from a PinnedBackend: CUDA's in the program, a fake in the tests
// (tests/engine/test_pinned_pool.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace pleura {

struct PinnedBackend {
  std::function<void*(size_t bytes)> alloc;
  std::function<void(void* ptr)> free;
  std::function<bool(uint64_t fence)> fence_passed;  // asked, never waited for; fence 0 means none
};

// One lent buffer; it goes back to its pool when the last shared_ptr to it is dropped.
class PinnedBuffer {
 public:
  PinnedBuffer(void* data, size_t bytes) : data_(data), bytes_(bytes) {}
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  // Call after queuing a device copy from (or to) the buffer: it is not lent again before `fence` passes.
  // A later fence replaces an earlier one (fences on one stream pass in order).
  void set_fence(uint64_t fence) { fence_ = fence; }
  uint64_t fence() const { return fence_; }

 private:
  void* data_;
  size_t bytes_;
  uint64_t fence_ = 0;
};

struct PinnedPoolStats {
  int64_t allocations = 0;  // buffers the backend allocated
  int64_t reuses = 0;       // loans served by an idle buffer
  int64_t lent = 0;         // buffers lent now
  int64_t idle = 0;         // buffers back in the pool now
  int64_t idle_bytes = 0;
};

class PinnedPool {
 public:
  explicit PinnedPool(PinnedBackend backend);
  // Frees the idle buffers; buffers still lent are freed when they come back.
  ~PinnedPool();
  PinnedPool(const PinnedPool&) = delete;
  PinnedPool& operator=(const PinnedPool&) = delete;

  // A buffer of exactly `bytes` (at least 1): an idle one of that size whose fence has passed, else a new
  // one from the backend (whose errors propagate). Thread-safe.
  std::shared_ptr<PinnedBuffer> acquire(size_t bytes);
  // Frees every idle buffer whose fence has passed.
  void release_idle();
  PinnedPoolStats stats() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the lent buffers' deleters
};

// The process's pool of CUDA pinned memory (never destroyed: its buffers live until the process ends).
PinnedPool& cuda_pinned_pool();

}  // namespace pleura
