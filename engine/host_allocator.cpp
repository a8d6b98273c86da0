// The host allocator of host_allocator.h.
#include "engine/host_allocator.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/mman.h>

#include "engine/alloc_context.h"
#include "engine/block_pool.h"
#include "engine/error.h"
#include "engine/pass_plan.h"

namespace pleura {

namespace {

bool caching_from_env() {
  const char* env = std::getenv("PLEURA_CPU_NO_CACHE");
  return !(env != nullptr && env[0] != '\0' && std::strcmp(env, "0") != 0);
}

size_t rounded_size(size_t bytes) {
  if (bytes < kCachedMin) return (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  size_t step = bytes <= (size_t(1) << 20) ? size_t(64) << 10 : size_t(1) << 20;
  return (bytes + step - 1) / step * step;
}

// Tests only: requests of at least this many bytes fail as if the machine were out of memory
// (PLEURA_FAULT_HOST_ALLOC=<bytes>, or set_host_alloc_failure_for_tests). 0: off.
std::atomic<size_t>& failure_threshold() {
  static std::atomic<size_t> threshold{[] {
    const char* env = std::getenv("PLEURA_FAULT_HOST_ALLOC");
    return env != nullptr ? static_cast<size_t>(std::strtoull(env, nullptr, 10)) : size_t{0};
  }()};
  return threshold;
}

bool injected_failure(size_t rounded) {
  const size_t fail_at = failure_threshold().load(std::memory_order_relaxed);
  return fail_at != 0 && rounded >= fail_at;
}

// MemAvailable and MemTotal of /proc/meminfo, in bytes (0, 0 when unreadable).
std::pair<size_t, size_t> available_and_total() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t kib = 0, available = 0, total = 0;
  while (in >> key >> kib) {
    if (key == "MemAvailable:") available = kib << 10;
    if (key == "MemTotal:") total = kib << 10;
    in.ignore(64, '\n');
  }
  return {available, total};
}

// kWithinLivePeak's segments: anonymous mappings of their own, so that a segment given back leaves the
// process's resident memory at once.
class MappedHeap : public SegmentHeap {
 public:
  void* allocate(size_t bytes) override { return map(bytes, 0); }
  // The same, its pages faulted in now (in one call, cheaper than one fault per page when first written).
  void* allocate_populated(size_t bytes) { return map(bytes, MAP_POPULATE); }
  void release(void* base, size_t bytes) override { munmap(base, bytes); }
  std::pair<size_t, size_t> free_and_total() const override { return available_and_total(); }

 private:
  static void* map(size_t bytes, int flags) {
    if (injected_failure(bytes)) return nullptr;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
};

struct Cache {
  std::mutex mutex;
  std::map<size_t, std::vector<void*>> free_blocks;  // kKeepAll's, by rounded size
  HostMemoryStats stats;
  bool caching = caching_from_env();
  HostCachePolicy policy = HostCachePolicy::kKeepAll;
  MappedHeap heap;
  std::unique_ptr<BlockPool> pool;  // kWithinLivePeak's, made at the first switch to it
  // Planned passes (HostPlannedPass), under kWithinLivePeak: the plan, whether a pass is on, the blocks the
  // recording pass mapped one by one (until freed: ptr -> size), and the replays' arena.
  PassPlan plan;
  bool in_pass = false;
  std::thread::id pass_thread;  // the pass's own requests only: a loader thread's come in no fixed order
  std::unordered_map<void*, size_t> mapped;
  char* arena = nullptr;
  size_t arena_bytes = 0;
};

Cache& cache() {
  // Never destroyed: tensors held by static objects may be freed after it would have been.
  static Cache* c = new Cache();
  return *c;
}

void* try_c_alloc(size_t rounded) {
  if (injected_failure(rounded)) return nullptr;
  return std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
}

// From the C library; when it has nothing, the cache goes back to it and the request is tried once more,
// then OutOfMemoryError names the request, the machine's memory and what was running.
void* c_alloc(size_t bytes, size_t rounded) {
  if (void* p = try_c_alloc(rounded)) return p;
  const size_t cached = host_memory_stats().bytes_cached;
  host_empty_cache();
  if (void* p = try_c_alloc(rounded)) return p;
  const auto [available, total] = available_and_total();
  throw OutOfMemoryError(out_of_memory_message(
      "cpu", bytes, rounded,
      cat("the machine has ", mib_text(available), " available of ", mib_text(total), " (Pleura's cache of ",
          mib_text(cached), " was given back first)")));
}

// A request under kWithinLivePeak, from the pool, counted as a hit unless it took a new segment. Called with
// the cache locked.
void* pool_alloc(Cache& c, size_t bytes) {
  const BlockPoolStats before = c.pool->stats();
  void* p = c.pool->allocate(bytes, 0);
  const BlockPoolStats after = c.pool->stats();
  ++(after.heap_allocs > before.heap_allocs ? c.stats.cache_misses : c.stats.cache_hits);
  c.stats.bytes_released += after.bytes_released - before.bytes_released;
  return p;
}

// A request in a planned pass, from the thread that opened it: its place in the arena when replaying and the
// plan has one; when recording, a mapping of its own (so that a freed block leaves the process at once: the
// record pass holds only what is live), recorded. Null otherwise. Called with the cache locked.
void* planned_alloc(Cache& c, size_t rounded) {
  if (!c.in_pass || std::this_thread::get_id() != c.pass_thread) return nullptr;
  if (c.plan.stage() == PassPlan::Stage::kReplaying) {
    const std::optional<size_t> offset = c.arena != nullptr ? c.plan.next(rounded) : std::nullopt;
    if (!offset) return nullptr;
    ++c.stats.cache_hits;
    ++c.stats.planned_hits;
    return c.arena + *offset;
  }
  void* p = c.heap.allocate(rounded);
  if (p == nullptr) return nullptr;
  ++c.stats.cache_misses;
  c.plan.record_alloc(p, rounded);
  c.mapped.emplace(p, rounded);
  return p;
}

// Frees ptr if it is the arena's or a recording pass's; false if it is neither. Called with the cache locked.
bool planned_free(Cache& c, void* ptr) {
  char* p = static_cast<char*>(ptr);
  if (c.arena != nullptr && p >= c.arena && p < c.arena + c.arena_bytes) {
    c.plan.release(static_cast<size_t>(p - c.arena));
    return true;
  }
  auto it = c.mapped.find(ptr);
  if (it == c.mapped.end()) return false;
  c.plan.record_free(ptr);
  c.heap.release(ptr, it->second);
  c.mapped.erase(it);
  return true;
}

// Gives the arena back and starts the plan afresh, unless a block of the arena is still in use. Called with
// the cache locked.
void reset_plan(Cache& c) {
  if (c.plan.live_blocks() != 0) return;
  if (c.arena != nullptr) c.heap.release(c.arena, c.arena_bytes);
  c.arena = nullptr;
  c.arena_bytes = 0;
  c.plan = PassPlan();
}

// Takes every block off kKeepAll's free lists, for the caller to give back. Called with the cache locked.
std::vector<void*> take_free_lists(Cache& c) {
  std::vector<void*> taken;
  for (auto& [size, blocks] : c.free_blocks) taken.insert(taken.end(), blocks.begin(), blocks.end());
  c.free_blocks.clear();
  c.stats.bytes_cached = 0;
  return taken;
}

}  // namespace

void* host_alloc(size_t bytes) {
  const size_t rounded = rounded_size(bytes);
  Cache& c = cache();
  if (rounded < kCachedMin || !c.caching) return c_alloc(bytes, rounded);
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.policy == HostCachePolicy::kWithinLivePeak) {
      if (void* p = planned_alloc(c, rounded)) return p;
      return pool_alloc(c, bytes);
    }
    auto it = c.free_blocks.find(rounded);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.bytes_cached -= rounded;
      ++c.stats.cache_hits;
      return p;
    }
    ++c.stats.cache_misses;
  }
  return c_alloc(bytes, rounded);
}

void host_free(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t rounded = rounded_size(bytes);
  Cache& c = cache();
  if (rounded >= kCachedMin && c.caching) {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (planned_free(c, ptr)) return;
    if (c.pool && c.pool->holds(ptr)) {
      c.pool->free(ptr);
      return;
    }
    if (c.policy == HostCachePolicy::kKeepAll) {
      c.free_blocks[rounded].push_back(ptr);
      c.stats.bytes_cached += rounded;
      return;
    }
  }
  std::free(ptr);  // small, uncached, or from before the switch to kWithinLivePeak
}

HostMemoryStats host_memory_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  HostMemoryStats s = c.stats;
  if (c.pool) s.bytes_cached += c.pool->stats().bytes_reserved - c.pool->stats().bytes_in_use;
  s.caching = c.caching;
  return s;
}

void set_host_cache_policy(HostCachePolicy policy) {
  Cache& c = cache();
  std::vector<void*> release;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.policy = policy;
    c.in_pass = false;
    if (policy == HostCachePolicy::kWithinLivePeak) {
      if (!c.pool) {
        c.pool = std::make_unique<BlockPool>(c.heap, "cpu");
        c.pool->set_reserve_within_peak(true);
      }
      c.pool->reset_peak();         // the peak counts from here
      release = take_free_lists(c);  // the pool never takes them
    } else if (c.pool) {
      c.pool->release_cached();  // its blocks still in use come back to it when freed
    }
  }
  for (void* p : release) std::free(p);
}

void set_host_alloc_failure_for_tests(size_t bytes) {
  failure_threshold().store(bytes, std::memory_order_relaxed);
  if (bytes != 0) host_empty_cache();  // or the cache would serve what the failure is to refuse
}

void host_empty_cache() {
  Cache& c = cache();
  std::vector<void*> release;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    release = take_free_lists(c);
    if (c.pool) c.pool->release_cached();
    reset_plan(c);
  }
  for (void* p : release) std::free(p);
}

HostPlannedPass::HostPlannedPass() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (c.policy != HostCachePolicy::kWithinLivePeak || !c.caching || c.in_pass) return;
  c.in_pass = true;
  c.pass_thread = std::this_thread::get_id();
  owner_ = true;
  if (c.plan.stage() == PassPlan::Stage::kReplaying) c.plan.restart();
}

HostPlannedPass::~HostPlannedPass() {
  if (!owner_) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (!c.in_pass) return;  // the policy changed meanwhile
  c.in_pass = false;
  if (c.plan.stage() != PassPlan::Stage::kRecording) return;
  if (std::uncaught_exceptions() > 0) {  // an unfinished pass is no record
    c.plan.discard_recording();
    return;
  }
  const size_t bytes = c.plan.finish_recording();
  if (bytes == 0) return;
  // Faulted in here, at the end of the record pass, rather than by the first replay.
  c.arena = static_cast<char*>(c.heap.allocate_populated(bytes));
  c.arena_bytes = c.arena != nullptr ? bytes : 0;  // unmapped: every replay request goes to the pool
}

}  // namespace pleura
