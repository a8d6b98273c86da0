// A caching pool of device memory that splits and coalesces blocks: the policy behind the CUDA
// backend's allocator (cuda/allocator.cu), written without CUDA so that it is tested on the host with a
// fake heap (tests/engine/test_block_pool.cpp); the host's inference uses it too (engine/host_allocator.cpp,
// over mapped segments, its reserve kept within the peak in use).
//
// Memory comes from the heap in segments: requests up to 1 MiB share 2 MiB segments (the small pool),
// larger ones get segments rounded up to 2 MiB (the large pool). A request takes the smallest free block
// of its pool and stream that fits (best fit) and splits off the rest when the rest is worth keeping
// (512 B in the small pool, over 1 MiB in the large one); a freed block merges with free neighbours of
// its segment, so memory freed in pieces serves a larger request later. A block is reused only on the
// stream it was made for: work queued later on that stream is ordered after the work that used it, so
// reuse needs no event. When the heap is exhausted, whole free segments go back to it and the request is
// tried once more; then OutOfMemoryError says how much was asked, what the device has free, what the
// pool holds, what was running (engine/alloc_context.h) and what to lower.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "engine/alloc_context.h"  // OutOfMemoryError
#include "engine/error.h"

namespace pleura {

// Where segments come from: cudaMalloc/cudaFree on a GPU, a fake arena in tests.
class SegmentHeap {
 public:
  virtual ~SegmentHeap() = default;
  // nullptr when out of memory (other failures throw).
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* base, size_t bytes) = 0;
  // Free and total bytes of the memory behind the heap, for error messages (0, 0 when unknown).
  virtual std::pair<size_t, size_t> free_and_total() const = 0;
};

struct BlockPoolStats {
  size_t bytes_in_use = 0;  // handed out (rounded sizes)
  size_t peak_bytes_in_use = 0;
  size_t bytes_reserved = 0;  // held from the heap, in use or free
  size_t peak_bytes_reserved = 0;
  size_t segments = 0;
  size_t heap_allocs = 0;
  size_t heap_frees = 0;
  size_t allocs = 0;
  size_t cache_hits = 0;  // requests served without asking the heap
  size_t bytes_released = 0;  // given back to the heap
  size_t splits = 0;
  size_t merges = 0;
};

// A stream as an integer (a cudaStream_t's value; 0 is the default stream).
using StreamId = uintptr_t;

class BlockPool {
 public:
  static constexpr size_t kMinBlock = 512;
  static constexpr size_t kSmallRequest = size_t(1) << 20;
  static constexpr size_t kSmallSegment = size_t(2) << 20;
  static constexpr size_t kLargeRound = size_t(2) << 20;
  static constexpr size_t kLargeSplitMin = size_t(1) << 20;  // a large block's remainder is kept above this

  // `label` names the memory in messages ("cuda:0").
  BlockPool(SegmentHeap& heap, std::string label);
  ~BlockPool();  // returns free segments; blocks still in use are the caller's leak
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  void* allocate(size_t bytes, StreamId stream);
  // ptr must come from allocate() and not be freed yet (else throws, naming the pool).
  void free(void* ptr);
  // Returns every fully free segment to the heap; the bytes returned.
  size_t release_cached();

  // Stream capture into a CUDA graph (cuda/graph.cu). While a private pool is open, requests on `stream`
  // are served from segments of `pool` (an id no stream uses: kPrivatePoolBit set) and never from the
  // stream's own free blocks, so the memory a graph was captured with stays the graph's: its blocks, freed
  // during the capture or after it, serve only later requests of that pool (a replay writes them again).
  // A block of any other pool freed while it is open (memory the graph may read on a replay, which others
  // could take meanwhile) is counted, and close_private() returns the count: the capture is safe to replay
  // only when it is 0. Out of memory inside a private pool does not give cached segments back (freeing
  // device memory would end a capture). From open_private until release_private(pool) the pool is held:
  // release_cached() (which the out-of-memory path calls) keeps its segments, free or not, since a live
  // graph writes them on every replay. release_private, when the graph is gone (or was never made), gives
  // the pool's free segments back at once; its blocks still in use go back when freed.
  static constexpr StreamId kPrivatePoolBit = StreamId{1} << (sizeof(StreamId) * 8 - 1);
  void open_private(StreamId stream, StreamId pool);
  size_t close_private();
  size_t release_private(StreamId pool);  // the bytes returned
  bool private_open() const { return private_open_; }
  BlockPoolStats stats() const { return stats_; }
  // Whether ptr is a block this pool handed out and that is not freed yet.
  bool holds(const void* ptr) const { return live_.count(const_cast<void*>(ptr)) > 0; }
  // When on, a request that needs a new segment first gives the fully free segments back if the new one would
  // take the reserved bytes past the most ever in use (this request included), so that the pool holds about
  // what its blocks need, not the sum of every size it has seen (the host's inference, engine/host_allocator.h).
  void set_reserve_within_peak(bool on) { reserve_within_peak_ = on; }
  void reset_peak();
  // The size a request is served with: a multiple of kMinBlock, at least kMinBlock.
  static size_t round_size(size_t bytes);
  // Test aid: throws unless blocks tile every segment without gaps, free neighbours are merged, every
  // free block is in its free list and the statistics match the blocks.
  void check_invariants() const;

 private:
  struct Block;
  struct BySize {
    bool operator()(const Block* a, const Block* b) const;
  };
  using FreeList = std::set<Block*, BySize>;

  Block* find_free(size_t size, StreamId stream, bool small);
  Block* new_segment(size_t size, StreamId stream, bool small);
  void split(Block* block, size_t size);
  Block* merge_free_neighbours(Block* block);
  size_t release_free_segments(const std::function<bool(StreamId)>& keep);
  FreeList& free_list(bool small) { return small ? small_free_ : large_free_; }
  [[noreturn]] void throw_out_of_memory(size_t bytes, size_t rounded) const;

  SegmentHeap& heap_;
  std::string label_;
  bool private_open_ = false;
  bool reserve_within_peak_ = false;
  StreamId private_stream_ = 0, private_pool_ = 0;
  size_t foreign_frees_ = 0;  // frees of other pools' blocks while the private pool is open
  std::set<StreamId> held_pools_;  // private pools whose graphs may still replay
  FreeList small_free_, large_free_;
  std::unordered_map<void*, Block*> live_;  // blocks handed out, by address
  std::set<Block*> segment_heads_;          // the first block of every segment
  BlockPoolStats stats_;
};

}  // namespace pleura
