// Tests of engine/pass_plan.h: a worked layout, random records laid out without overlaps in the peak or
// more, and record and replay, with the strays that must get no place.
#include "engine/pass_plan.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/random.h"
#include "tests/testing.h"

using namespace pleura;

namespace {

PlannedBlock block(size_t size, size_t born, size_t died) {
  PlannedBlock b;
  b.size = size;
  b.born = born;
  b.died = died;
  return b;
}

// The most bytes live at once over the record's clock.
size_t peak_live(const std::vector<PlannedBlock>& blocks) {
  size_t end = 0, peak = 0;
  for (const PlannedBlock& b : blocks)
    if (b.died != PlannedBlock::kNever) end = std::max(end, b.died);
  for (size_t t = 0; t < end; ++t) {
    size_t live = 0;
    for (const PlannedBlock& b : blocks)
      if (b.died != PlannedBlock::kNever && b.born <= t && t < b.died) live += b.size;
    peak = std::max(peak, live);
  }
  return peak;
}

const void* fake(uintptr_t address) { return reinterpret_cast<const void*>(address); }

}  // namespace

TEST_CASE("pass plan: worked layout, largest first at the lowest free offset") {
  // a: 4 bytes live [0,4), b: 2 [1,3), c: 3 [3,6), d: 1 [5,7), e: 5 never freed.
  std::vector<PlannedBlock> blocks = {block(4, 0, 4), block(2, 1, 3), block(3, 3, 6), block(1, 5, 7),
                                      block(5, 2, PlannedBlock::kNever)};
  // a at 0; c meets a: after it, 4; b meets a only: 4; d meets c only ([4,7)): 0. Arena 7 = a + c, the peak.
  CHECK(plan_offsets(blocks) == 7);
  CHECK(blocks[0].offset == 0);
  CHECK(blocks[2].offset == 4);
  CHECK(blocks[1].offset == 4);
  CHECK(blocks[3].offset == 0);
  CHECK(!blocks[4].planned);
  CHECK(peak_live(blocks) == 7);
}

TEST_CASE("pass plan: random records, no two blocks live together share a byte") {
  Rng rng(23);
  for (int trial = 0; trial < 50; ++trial) {
    CAPTURE(trial);
    std::vector<PlannedBlock> blocks;
    const int count = 5 + static_cast<int>(rng.uniform() * 40);
    for (int i = 0; i < count; ++i) {
      const size_t born = static_cast<size_t>(rng.uniform() * 100);
      const size_t size = 1 + static_cast<size_t>(rng.uniform() * 64);
      blocks.push_back(block(size, born, born + 1 + static_cast<size_t>(rng.uniform() * 30)));
    }
    const size_t arena = plan_offsets(blocks);
    CHECK(arena >= peak_live(blocks));
    for (size_t i = 0; i < blocks.size(); ++i) {
      CHECK(blocks[i].offset + blocks[i].size <= arena);
      for (size_t j = i + 1; j < blocks.size(); ++j) {
        const bool together = blocks[i].born < blocks[j].died && blocks[j].born < blocks[i].died;
        const bool share = blocks[i].offset < blocks[j].offset + blocks[j].size &&
                           blocks[j].offset < blocks[i].offset + blocks[i].size;
        CHECK(!(together && share));
      }
    }
  }
}

TEST_CASE("pass plan: a replay follows the record; a stray gets no place for the rest of its pass") {
  PassPlan plan;
  // Record: a 4 alloc, b 6 alloc, a freed, c 8 alloc, b freed, c freed, d 3 alloc (outlives the pass).
  plan.record_alloc(fake(0x1000), 4);
  plan.record_alloc(fake(0x2000), 6);
  CHECK(plan.record_free(fake(0x1000)));
  plan.record_alloc(fake(0x3000), 8);
  CHECK(plan.record_free(fake(0x2000)));
  CHECK(plan.record_free(fake(0x3000)));
  plan.record_alloc(fake(0x4000), 3);
  CHECK(!plan.record_free(fake(0x5000)));  // not recorded
  // Lifetimes a [0,2), b [1,4), c [3,5): c at 0, b after it at 8, a (meets b only) at 0; arena 14 = b + c.
  CHECK(plan.finish_recording() == 14);
  CHECK(plan.stage() == PassPlan::Stage::kReplaying);
  for (int pass = 0; pass < 2; ++pass) {
    plan.restart();
    CHECK(plan.next(4) == std::optional<size_t>(0));
    CHECK(plan.next(6) == std::optional<size_t>(8));
    plan.release(0);
    CHECK(plan.next(8) == std::optional<size_t>(0));
    plan.release(8);
    plan.release(0);
    CHECK(!plan.next(3).has_value());  // d outlived the record: served elsewhere
    CHECK(plan.live_blocks() == 0);
  }
  // Another size: nothing, and nothing after it in the pass, though the next request is the recorded one.
  plan.restart();
  CHECK(!plan.next(5).has_value());
  CHECK(!plan.next(6).has_value());
  // a kept past its recorded death: c's place is in use, so c gets nothing.
  plan.restart();
  CHECK(plan.next(4) == std::optional<size_t>(0));
  CHECK(plan.next(6) == std::optional<size_t>(8));
  CHECK(!plan.next(8).has_value());
  plan.release(0);
  plan.release(8);
  // A pass after the strays follows the record again.
  plan.restart();
  CHECK(plan.next(4) == std::optional<size_t>(0));
  plan.release(0);
}

TEST_CASE("pass plan: nothing recorded, nothing planned") {
  PassPlan plan;
  CHECK(plan.finish_recording() == 0);
  CHECK(plan.stage() == PassPlan::Stage::kRecording);
  plan.record_alloc(fake(0x1000), 4);
  plan.discard_recording();
  CHECK(!plan.record_free(fake(0x1000)));
  CHECK(plan.finish_recording() == 0);
}
