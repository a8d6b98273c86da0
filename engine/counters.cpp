// The engine's counters (engine/counters.h): one relaxed atomic per counter. A relaxed increment costs a
// few nanoseconds, far below what each counted call costs itself.
#include "engine/counters.h"

#include <array>
#include <atomic>

namespace pleura {
namespace {

constexpr size_t kCounters = static_cast<size_t>(Counter::kGraphLaunch) + 1;
std::array<std::atomic<int64_t>, kCounters> g_counts{};

int64_t read(Counter what) { return g_counts[static_cast<size_t>(what)].load(std::memory_order_relaxed); }

}  // namespace

void count(Counter what) { g_counts[static_cast<size_t>(what)].fetch_add(1, std::memory_order_relaxed); }

EngineCounters engine_counters() {
  EngineCounters c;
  c.host_reads = read(Counter::kHostRead);
  c.device_to_host_copies = read(Counter::kDeviceToHostCopy);
  c.synchronizations = read(Counter::kSynchronization);
  c.pinned_allocs = read(Counter::kPinnedAlloc);
  c.pinned_frees = read(Counter::kPinnedFree);
  c.device_mallocs = read(Counter::kDeviceMalloc);
  c.device_frees = read(Counter::kDeviceFree);
  c.kernel_launches = read(Counter::kKernelLaunch);
  c.library_calls = read(Counter::kLibraryCall);
  c.bf16_library_calls = read(Counter::kBf16LibraryCall);
  c.copies_and_fills = read(Counter::kCopyOrFill);
  c.graph_launches = read(Counter::kGraphLaunch);
  return c;
}

void reset_engine_counters() {
  for (auto& c : g_counts) c.store(0, std::memory_order_relaxed);
}

EngineCounters counters_between(const EngineCounters& a, const EngineCounters& b) {
  EngineCounters d;
  d.host_reads = b.host_reads - a.host_reads;
  d.device_to_host_copies = b.device_to_host_copies - a.device_to_host_copies;
  d.synchronizations = b.synchronizations - a.synchronizations;
  d.pinned_allocs = b.pinned_allocs - a.pinned_allocs;
  d.pinned_frees = b.pinned_frees - a.pinned_frees;
  d.device_mallocs = b.device_mallocs - a.device_mallocs;
  d.device_frees = b.device_frees - a.device_frees;
  d.kernel_launches = b.kernel_launches - a.kernel_launches;
  d.library_calls = b.library_calls - a.library_calls;
  d.bf16_library_calls = b.bf16_library_calls - a.bf16_library_calls;
  d.copies_and_fills = b.copies_and_fills - a.copies_and_fills;
  d.graph_launches = b.graph_launches - a.graph_launches;
  return d;
}

}  // namespace pleura
