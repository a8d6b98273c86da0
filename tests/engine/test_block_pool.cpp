// Tests of the device memory pool's policy (engine/block_pool.h) on the host, over a fake heap: splitting,
// coalescing, best fit, streams, whole-segment release, the retry and the out-of-memory message, and a
// random run checked against the invariants and against overlapping live blocks.
#include "engine/block_pool.h"

#include <cstdlib>
#include <map>
#include <vector>

#include "engine/alloc_context.h"
#include "engine/random.h"
#include "tests/testing.h"

using namespace pleura;

namespace {

// Segments from malloc, with a capacity (to run out), counting calls.
class FakeHeap : public SegmentHeap {
 public:
  explicit FakeHeap(size_t capacity) : capacity_(capacity) {}
  ~FakeHeap() override {
    for (auto& [p, n] : live_) std::free(p);
  }
  void* allocate(size_t bytes) override {
    ++allocs;
    if (used_ + bytes > capacity_) return nullptr;
    void* p = std::malloc(bytes);
    live_[p] = bytes;
    used_ += bytes;
    return p;
  }
  void release(void* base, size_t bytes) override {
    ++releases;
    REQUIRE(live_.count(base) == 1);
    REQUIRE(live_[base] == bytes);
    live_.erase(base);
    used_ -= bytes;
    std::free(base);
  }
  std::pair<size_t, size_t> free_and_total() const override { return {capacity_ - used_, capacity_}; }
  size_t used() const { return used_; }
  int allocs = 0, releases = 0;

 private:
  size_t capacity_, used_ = 0;
  std::map<void*, size_t> live_;
};

constexpr size_t kMiB = size_t(1) << 20;

}  // namespace

TEST_CASE("block pool: small requests share a 2 MiB segment, split in address order") {
  FakeHeap heap(64 * kMiB);
  BlockPool pool(heap, "fake");
  char* a = static_cast<char*>(pool.allocate(1000, 0));  // rounded to 1024
  char* b = static_cast<char*>(pool.allocate(100, 0));   // rounded to 512
  CHECK(heap.allocs == 1);
  CHECK(b == a + 1024);
  const BlockPoolStats s = pool.stats();
  CHECK(s.bytes_in_use == 1536);
  CHECK(s.bytes_reserved == 2 * kMiB);
  CHECK(s.segments == 1);
  CHECK(s.splits == 2);
  CHECK(s.cache_hits == 1);
  pool.check_invariants();
  pool.free(a);
  pool.free(b);
  CHECK(pool.stats().bytes_in_use == 0);
  CHECK(pool.stats().merges == 2);  // b merged with the tail, then with a
  pool.check_invariants();
  CHECK(pool.release_cached() == 2 * kMiB);
  CHECK(heap.releases == 1);
  CHECK(pool.stats().segments == 0);
}

TEST_CASE("block pool: freed pieces coalesce and serve a larger request without the heap") {
  FakeHeap heap(64 * kMiB);
  BlockPool pool(heap, "fake");
  std::vector<void*> pieces;
  for (int i = 0; i < 4; ++i) pieces.push_back(pool.allocate(3 * kMiB, 0));  // four 4 MiB segments
  CHECK(heap.allocs == 4);
  for (void* p : pieces) pool.free(p);
  // A 4 MiB segment holds the 3 MiB block and a 1 MiB remainder too small to split off (kLargeSplitMin).
  CHECK(pool.stats().splits == 0);
  void* again = pool.allocate(4 * kMiB, 0);
  CHECK(heap.allocs == 4);  // served from the cache
  pool.free(again);
  void* big = pool.allocate(10 * kMiB, 0);  // no single free block is that large: a new segment
  CHECK(heap.allocs == 5);
  void* part = pool.allocate(5 * kMiB, 0);  // ... and none of the 4 MiB blocks fits 5 MiB
  CHECK(heap.allocs == 6);
  pool.free(big);
  void* from_big = pool.allocate(7 * kMiB, 0);  // best fit: the 10 MiB block, split into 7 + 3
  CHECK(from_big == big);
  CHECK(heap.allocs == 6);
  CHECK(pool.stats().splits >= 1);
  pool.check_invariants();
  pool.free(from_big);
  pool.free(part);
  pool.check_invariants();
  CHECK(pool.stats().bytes_in_use == 0);
}

TEST_CASE("block pool: best fit takes the smallest block that fits") {
  FakeHeap heap(64 * kMiB);
  BlockPool pool(heap, "fake");
  void* s8 = pool.allocate(8 * kMiB, 0);
  void* s4 = pool.allocate(4 * kMiB, 0);
  void* s6 = pool.allocate(6 * kMiB, 0);
  pool.free(s8);
  pool.free(s4);
  pool.free(s6);
  CHECK(pool.allocate(5 * kMiB, 0) == s6);
  CHECK(pool.allocate(3 * kMiB, 0) == s4);
}

TEST_CASE("block pool: within the peak in use, a new segment first gives the free ones back") {
  for (const bool within_peak : {false, true}) {
    CAPTURE(within_peak);
    FakeHeap heap(64 * kMiB);
    BlockPool pool(heap, "fake");
    pool.set_reserve_within_peak(within_peak);
    void* a = pool.allocate(4 * kMiB, 0);
    void* b = pool.allocate(6 * kMiB, 0);
    pool.free(a);  // in use 6 MiB, the peak 10, reserved 10
    // 8 MiB fits no free block: in use would be 14, the new peak; reserved 18 without the policy, 14 with it
    // (the free 4 MiB segment goes back first).
    void* c = pool.allocate(8 * kMiB, 0);
    const BlockPoolStats s = pool.stats();
    CHECK(s.bytes_reserved == (within_peak ? 14 : 18) * kMiB);
    CHECK(s.bytes_released == (within_peak ? 4 : 0) * kMiB);
    CHECK(heap.releases == (within_peak ? 1 : 0));
    CHECK(heap.used() == s.bytes_reserved);
    // 2 MiB fits no free block either, but a new segment stays within the peak (14): nothing goes back.
    pool.free(c);
    void* d = pool.allocate(2 * kMiB, 0);
    CHECK(d == (within_peak ? c : a));  // the best fit: a's 4 MiB block where it was kept, else c's 8 MiB, split
    CHECK(pool.stats().bytes_released == s.bytes_released);
    pool.free(b);
    pool.free(d);
    pool.check_invariants();
  }
}

TEST_CASE("block pool: blocks are reused on their own stream only") {
  FakeHeap heap(64 * kMiB);
  BlockPool pool(heap, "fake");
  void* a = pool.allocate(4096, 1);
  pool.free(a);
  void* b = pool.allocate(4096, 2);
  CHECK(b != a);
  CHECK(heap.allocs == 2);
  void* c = pool.allocate(4096, 1);
  CHECK(c == a);
  CHECK(heap.allocs == 2);
  pool.check_invariants();
}

TEST_CASE("block pool: when the heap runs out, free segments go back and the request is tried again") {
  FakeHeap heap(8 * kMiB);
  BlockPool pool(heap, "fake");
  void* small = pool.allocate(1000, 0);  // a 2 MiB small segment
  pool.free(small);
  void* big = pool.allocate(6 * kMiB, 0);  // 2 + 6 = 8 MiB: fits
  pool.free(big);
  void* bigger = pool.allocate(7 * kMiB, 0);  // from the cached 6 MiB? no: 8 MiB segment, after releasing both
  CHECK(heap.releases == 2);
  CHECK(pool.stats().bytes_reserved == 8 * kMiB);
  pool.free(bigger);
  pool.check_invariants();
}

TEST_CASE("block pool: out of memory names the request, the device's memory, the op and the workload") {
  FakeHeap heap(8 * kMiB);
  BlockPool pool(heap, "cuda:0");
  void* held = pool.allocate(5 * kMiB, 0);
  set_workload("training albunet at 1024x1024, batch 16");
  {
    OpScope scope("conv2d");
    testing::expect_error([&] { pool.allocate(3 * kMiB, 0); },
                          {"[cuda:0 alloc] out of memory", "asked for 3145728 bytes", "during conv2d",
                           "training albunet at 1024x1024, batch 16", "2.0 MiB free of 8.0 MiB",
                           "Pleura holds 6.0 MiB of which 6.0 MiB in use", "Lower the batch size"});
  }
  set_workload("");
  CHECK(current_op() == nullptr);
  bool typed = false;
  try {
    pool.allocate(100 * kMiB, 0);
  } catch (const OutOfMemoryError&) {
    typed = true;
  }
  CHECK(typed);
  pool.free(held);
  pool.check_invariants();
}

TEST_CASE("block pool: freeing an unknown or freed pointer is an error naming the pool") {
  FakeHeap heap(8 * kMiB);
  BlockPool pool(heap, "cuda:1");
  void* a = pool.allocate(100, 0);
  pool.free(a);
  testing::expect_error([&] { pool.free(a); }, {"[cuda:1 alloc] free of", "freed already"});
  int local = 0;
  testing::expect_error([&] { pool.free(&local); }, {"did not hand out"});
}

TEST_CASE("block pool: random allocations and frees keep the invariants and never overlap") {
  FakeHeap heap(512 * kMiB);
  BlockPool pool(heap, "fake");
  Rng rng(7);
  std::map<char*, size_t> live;  // address -> requested bytes
  for (int step = 0; step < 4000; ++step) {
    // About 40 blocks alive on average: allocations win below that, frees above.
    if (live.empty() || rng.uniform() < (live.size() < 40 ? 0.7 : 0.3)) {
      // Mostly small and medium sizes, now and then a large one, on two streams.
      const double u = rng.uniform();
      const size_t bytes = u < 0.6 ? 1 + rng.below(64 << 10) : u < 0.95 ? 1 + rng.below(3 << 20) : 1 + rng.below(24 << 20);
      char* p = static_cast<char*>(pool.allocate(bytes, rng.below(2)));
      auto after = live.lower_bound(p);
      if (after != live.end()) REQUIRE(p + bytes <= after->first);
      if (after != live.begin()) {
        auto before = std::prev(after);
        REQUIRE(before->first + before->second <= p);
      }
      live[p] = bytes;
    } else {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng.below(live.size())));
      pool.free(it->first);
      live.erase(it);
    }
    if (step % 500 == 0) pool.check_invariants();
  }
  for (auto& [p, n] : live) pool.free(p);
  pool.check_invariants();
  CHECK(pool.stats().bytes_in_use == 0);
  pool.release_cached();
  CHECK(pool.stats().segments == 0);  // every segment merged back into one free block
  CHECK(heap.used() == 0);
}

TEST_CASE("block pool: a private pool (graph capture) keeps its memory apart from its stream's") {
  FakeHeap heap(64 * kMiB);
  BlockPool pool(heap, "fake");
  const StreamId stream = 0x1000, other = 0x2000;
  const StreamId graph = BlockPool::kPrivatePoolBit | 1;
  // A free block of the stream, which the capture must not take.
  void* before = pool.allocate(4096, stream);
  pool.free(before);
  const int segments_before = heap.allocs;

  pool.open_private(stream, graph);
  CHECK(pool.private_open());
  void* a = pool.allocate(4096, stream);  // served from a new segment of the graph's pool
  CHECK(a != before);
  CHECK(heap.allocs == segments_before + 1);
  void* b = pool.allocate(8192, stream);
  pool.free(b);                           // the graph's own: reused within the capture
  void* c = pool.allocate(8192, stream);
  CHECK(c == b);
  // Another stream (a loader thread's copies) is not captured: its request is its own stream's.
  // The graph's segment has room, but the request gets a segment of its own stream.
  void* elsewhere = pool.allocate(4096, other);
  CHECK(heap.allocs == segments_before + 2);
  CHECK(elsewhere != before);
  // Freed during the capture, a block of another pool counts against it (the graph might read it).
  pool.free(elsewhere);
  CHECK(pool.close_private() == 1);
  CHECK_FALSE(pool.private_open());
  pool.check_invariants();

  // After the capture the stream does not take the graph's blocks, even when they are free.
  pool.free(c);
  void* after = pool.allocate(8192, stream);
  CHECK(after != c);
  CHECK(after == before);  // the stream's own cached segment, kept through the capture
  pool.free(after);
  pool.free(a);
  pool.check_invariants();
  // While the graph lives, its free segment stays (a replay writes it); the stream's goes back.
  const size_t graph_segment = 2 * kMiB;
  pool.release_cached();
  CHECK(heap.used() == graph_segment);
  // The graph gone, its pool's free segments go back at once.
  CHECK(pool.release_private(graph) == graph_segment);
  CHECK(heap.used() == 0);
  pool.check_invariants();
}

TEST_CASE("block pool: releasing a graph's pool keeps its blocks in use and the other graphs' segments") {
  FakeHeap heap(64 * kMiB);
  BlockPool pool(heap, "fake");
  const StreamId stream = 0x1000, first = BlockPool::kPrivatePoolBit | 3, second = BlockPool::kPrivatePoolBit | 4;
  pool.open_private(stream, first);
  void* output = pool.allocate(4096, stream);  // a graph output the caller still holds
  void* temporary = pool.allocate(3 * kMiB, stream);
  pool.free(temporary);
  pool.close_private();
  pool.open_private(stream, second);
  void* other = pool.allocate(3 * kMiB, stream);
  pool.free(other);
  testing::expect_error([&] { pool.release_private(second); }, {"[fake alloc]", "while its capture is open"});
  pool.close_private();
  const size_t before = heap.used();
  // The first graph's large free segment goes; its small one holds the output; the second's stays.
  CHECK(pool.release_private(first) == 4 * kMiB);
  CHECK(heap.used() == before - 4 * kMiB);
  pool.release_cached();
  CHECK(heap.used() == before - 4 * kMiB);
  // The output freed later: its segment, no longer held, goes with the next release.
  pool.free(output);
  CHECK(pool.release_cached() == 2 * kMiB);
  CHECK(pool.release_private(second) == 4 * kMiB);
  CHECK(heap.used() == 0);
  pool.check_invariants();
}

TEST_CASE("block pool: a capture that frees no other pool's block is safe; the pool ids are checked") {
  FakeHeap heap(64 * kMiB);
  BlockPool pool(heap, "fake");
  const StreamId stream = 0x1000, graph = BlockPool::kPrivatePoolBit | 7;
  void* kept = pool.allocate(1000, stream);  // allocated before, alive through the capture
  pool.open_private(stream, graph);
  void* t = pool.allocate(2000, stream);
  pool.free(t);
  CHECK(pool.close_private() == 0);
  pool.free(kept);
  pool.check_invariants();

  testing::expect_error([&] { pool.open_private(stream, 5); }, {"[fake alloc]", "kPrivatePoolBit"});
  pool.open_private(stream, graph);
  testing::expect_error([&] { pool.open_private(stream, graph); }, {"[fake alloc]", "open already"});
  pool.close_private();
  testing::expect_error([&] { pool.close_private(); }, {"[fake alloc]", "without open_private"});
}

TEST_CASE("block pool: out of memory inside a private pool gives no cached segment back") {
  FakeHeap heap(4 * kMiB);
  BlockPool pool(heap, "fake");
  const StreamId stream = 0x1000, graph = BlockPool::kPrivatePoolBit | 2;
  void* cached = pool.allocate(3 * kMiB, stream);  // a 4 MiB segment, then cached
  pool.free(cached);
  pool.open_private(stream, graph);
  // The graph needs its own segment; the heap is full of the cached one, which must stay (cudaFree would
  // end the capture): out of memory.
  CHECK_THROWS_AS(pool.allocate(3 * kMiB, stream), OutOfMemoryError);
  CHECK(heap.releases == 0);
  pool.close_private();
  // Outside the capture the same request takes the cached segment.
  void* again = pool.allocate(3 * kMiB, stream);
  CHECK(again == cached);
  pool.free(again);
}
