// The splitting and coalescing pool of block_pool.h. Blocks of one segment form a doubly linked list in
// address order; free blocks also sit in their pool's free list ordered by (stream, size, address), so the
// best fit is one lower_bound.
#include "engine/block_pool.h"

#include <algorithm>

#include "engine/alloc_context.h"

namespace pleura {

struct BlockPool::Block {
  char* ptr = nullptr;
  size_t size = 0;
  StreamId stream = 0;
  bool small = false;
  bool allocated = false;
  Block* prev = nullptr;  // neighbours in the same segment
  Block* next = nullptr;
};

bool BlockPool::BySize::operator()(const Block* a, const Block* b) const {
  if (a->stream != b->stream) return a->stream < b->stream;
  if (a->size != b->size) return a->size < b->size;
  return a->ptr < b->ptr;
}

namespace {

size_t round_up(size_t n, size_t step) { return (n + step - 1) / step * step; }

}  // namespace

BlockPool::BlockPool(SegmentHeap& heap, std::string label) : heap_(heap), label_(std::move(label)) {}

BlockPool::~BlockPool() {
  held_pools_.clear();  // no graph replays once the pool is gone
  release_cached();
  for (Block* head : segment_heads_) {
    for (Block* b = head; b != nullptr;) {
      Block* next = b->next;
      delete b;
      b = next;
    }
  }
}

size_t BlockPool::round_size(size_t bytes) { return bytes == 0 ? kMinBlock : round_up(bytes, kMinBlock); }

BlockPool::Block* BlockPool::find_free(size_t size, StreamId stream, bool small) {
  FreeList& list = free_list(small);
  Block key;
  key.stream = stream;
  key.size = size;
  auto it = list.lower_bound(&key);
  if (it == list.end() || (*it)->stream != stream) return nullptr;
  Block* block = *it;
  list.erase(it);
  return block;
}

BlockPool::Block* BlockPool::new_segment(size_t size, StreamId stream, bool small) {
  const size_t bytes = small ? kSmallSegment : round_up(size, kLargeRound);
  const size_t peak = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use + size);
  if (reserve_within_peak_ && !private_open_ && stats_.bytes_reserved + bytes > peak) release_cached();
  void* base = heap_.allocate(bytes);
  if (base == nullptr && !private_open_) {  // a capture must not free device memory
    release_cached();
    base = heap_.allocate(bytes);
  }
  if (base == nullptr) return nullptr;
  Block* block = new Block;
  block->ptr = static_cast<char*>(base);
  block->size = bytes;
  block->stream = stream;
  block->small = small;
  segment_heads_.insert(block);
  ++stats_.segments;
  ++stats_.heap_allocs;
  stats_.bytes_reserved += bytes;
  if (stats_.bytes_reserved > stats_.peak_bytes_reserved) stats_.peak_bytes_reserved = stats_.bytes_reserved;
  return block;
}

// Cuts block down to `size` when the rest is worth keeping; the rest becomes a free block after it.
void BlockPool::split(Block* block, size_t size) {
  const size_t rest = block->size - size;
  if (rest < (block->small ? kMinBlock : kLargeSplitMin + 1)) return;
  Block* tail = new Block;
  tail->ptr = block->ptr + size;
  tail->size = rest;
  tail->stream = block->stream;
  tail->small = block->small;
  tail->prev = block;
  tail->next = block->next;
  if (block->next) block->next->prev = tail;
  block->next = tail;
  block->size = size;
  free_list(tail->small).insert(tail);
  ++stats_.splits;
}

void* BlockPool::allocate(size_t bytes, StreamId stream) {
  if (private_open_ && stream == private_stream_) stream = private_pool_;
  const size_t size = round_size(bytes);
  const bool small = size <= kSmallRequest;
  Block* block = find_free(size, stream, small);
  if (block != nullptr) {
    ++stats_.cache_hits;
  } else {
    block = new_segment(size, stream, small);
    if (block == nullptr) throw_out_of_memory(bytes, size);
  }
  split(block, size);
  block->allocated = true;
  live_[block->ptr] = block;
  ++stats_.allocs;
  stats_.bytes_in_use += block->size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return block->ptr;
}

// Merges a newly freed block with its free neighbours (taking them out of the free list); returns the
// merged block, which is not in the free list yet.
BlockPool::Block* BlockPool::merge_free_neighbours(Block* block) {
  if (Block* prev = block->prev; prev != nullptr && !prev->allocated) {
    free_list(prev->small).erase(prev);
    prev->size += block->size;
    prev->next = block->next;
    if (block->next) block->next->prev = prev;
    delete block;
    block = prev;
    ++stats_.merges;
  }
  if (Block* next = block->next; next != nullptr && !next->allocated) {
    free_list(next->small).erase(next);
    block->size += next->size;
    block->next = next->next;
    if (next->next) next->next->prev = block;
    delete next;
    ++stats_.merges;
  }
  return block;
}

void BlockPool::free(void* ptr) {
  auto it = live_.find(ptr);
  PLEURA_CHECK(it != live_.end(), "[", label_, " alloc] free of ", ptr, ", which this pool did not hand out ",
               "or which was freed already");
  Block* block = it->second;
  live_.erase(it);
  if (private_open_ && block->stream != private_pool_) ++foreign_frees_;
  stats_.bytes_in_use -= block->size;
  block->allocated = false;
  block = merge_free_neighbours(block);
  free_list(block->small).insert(block);
}

size_t BlockPool::release_cached() {
  return release_free_segments([this](StreamId owner) { return held_pools_.count(owner) > 0; });
}

size_t BlockPool::release_private(StreamId pool) {
  PLEURA_CHECK(!(private_open_ && pool == private_pool_), "[", label_, " alloc] private pool ", pool,
               " released while its capture is open");
  held_pools_.erase(pool);
  return release_free_segments([pool](StreamId owner) { return owner != pool; });
}

// Gives every fully free segment back to the heap unless keep(its stream or pool) says otherwise.
size_t BlockPool::release_free_segments(const std::function<bool(StreamId)>& keep) {
  size_t released = 0;
  for (auto it = segment_heads_.begin(); it != segment_heads_.end();) {
    Block* head = *it;
    // A whole free segment is one unallocated block.
    if (head->allocated || head->next != nullptr || keep(head->stream)) {
      ++it;
      continue;
    }
    free_list(head->small).erase(head);
    heap_.release(head->ptr, head->size);
    released += head->size;
    stats_.bytes_released += head->size;
    stats_.bytes_reserved -= head->size;
    --stats_.segments;
    ++stats_.heap_frees;
    delete head;
    it = segment_heads_.erase(it);
  }
  return released;
}

void BlockPool::open_private(StreamId stream, StreamId pool) {
  PLEURA_CHECK(!private_open_, "[", label_, " alloc] a private pool is open already (one capture at a time)");
  PLEURA_CHECK((pool & kPrivatePoolBit) != 0 && (stream & kPrivatePoolBit) == 0, "[", label_,
               " alloc] private pool id ", pool, " must have kPrivatePoolBit set, stream ", stream, " must not");
  private_open_ = true;
  private_stream_ = stream;
  private_pool_ = pool;
  foreign_frees_ = 0;
  held_pools_.insert(pool);
}

size_t BlockPool::close_private() {
  PLEURA_CHECK(private_open_, "[", label_, " alloc] close_private without open_private");
  private_open_ = false;
  return foreign_frees_;
}

void BlockPool::reset_peak() {
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.peak_bytes_reserved = stats_.bytes_reserved;
}

void BlockPool::throw_out_of_memory(size_t bytes, size_t rounded) const {
  const auto [free_bytes, total_bytes] = heap_.free_and_total();
  throw OutOfMemoryError(out_of_memory_message(
      label_, bytes, rounded,
      cat(label_, " has ", mib_text(free_bytes), " free of ", mib_text(total_bytes), ", Pleura holds ",
          mib_text(stats_.bytes_reserved), " of which ", mib_text(stats_.bytes_in_use), " in use")));
}

void BlockPool::check_invariants() const {
  size_t reserved = 0, in_use = 0, free_blocks = 0;
  for (const Block* head : segment_heads_) {
    PLEURA_CHECK(head->prev == nullptr, "[block pool] a segment head has a predecessor");
    for (const Block* b = head; b != nullptr; b = b->next) {
      reserved += b->size;
      if (b->next) {
        PLEURA_CHECK(b->ptr + b->size == b->next->ptr, "[block pool] a gap or overlap after block ", (void*)b->ptr);
        PLEURA_CHECK(b->next->prev == b, "[block pool] broken back link after block ", (void*)b->ptr);
        PLEURA_CHECK(b->allocated || b->next->allocated, "[block pool] two free neighbours not merged at ",
                     (void*)b->ptr);
      }
      if (b->allocated) {
        in_use += b->size;
        PLEURA_CHECK(live_.count(b->ptr) == 1, "[block pool] an allocated block is not in the live map");
      } else {
        ++free_blocks;
        auto& list = const_cast<BlockPool*>(this)->free_list(b->small);
        PLEURA_CHECK(list.count(const_cast<Block*>(b)) == 1, "[block pool] a free block is not in its free list");
      }
    }
  }
  PLEURA_CHECK(free_blocks == small_free_.size() + large_free_.size(), "[block pool] free lists hold ",
               small_free_.size() + large_free_.size(), " blocks, the segments ", free_blocks);
  PLEURA_CHECK(in_use == stats_.bytes_in_use, "[block pool] in use ", in_use, " bytes, stats say ",
               stats_.bytes_in_use);
  PLEURA_CHECK(reserved == stats_.bytes_reserved, "[block pool] reserved ", reserved, " bytes, stats say ",
               stats_.bytes_reserved);
  PLEURA_CHECK(segment_heads_.size() == stats_.segments, "[block pool] segment count mismatch");
}

}  // namespace pleura
