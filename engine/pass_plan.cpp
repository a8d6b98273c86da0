// The plan of repeated passes' memory (engine/pass_plan.h). Tests: tests/engine/test_pass_plan.cpp.
#include "engine/pass_plan.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace pleura {

namespace {

bool lifetimes_meet(const PlannedBlock& a, const PlannedBlock& b) { return a.born < b.died && b.born < a.died; }

}  // namespace

size_t plan_offsets(std::vector<PlannedBlock>& blocks) {
  std::vector<size_t> order;
  for (size_t i = 0; i < blocks.size(); ++i) {
    blocks[i].planned = blocks[i].died != PlannedBlock::kNever;
    if (blocks[i].planned) order.push_back(i);
  }
  // Largest first; among equals the earlier born, so the layout is a rule of the record alone.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return blocks[a].size != blocks[b].size ? blocks[a].size > blocks[b].size : blocks[a].born < blocks[b].born;
  });
  size_t arena = 0;
  std::vector<size_t> placed;
  for (const size_t i : order) {
    PlannedBlock& block = blocks[i];
    std::vector<std::pair<size_t, size_t>> taken;  // [offset, end) of placed blocks live with this one
    for (const size_t j : placed)
      if (lifetimes_meet(block, blocks[j])) taken.emplace_back(blocks[j].offset, blocks[j].offset + blocks[j].size);
    std::sort(taken.begin(), taken.end());
    size_t offset = 0;
    for (const auto& [begin, end] : taken) {
      if (offset + block.size <= begin) break;
      offset = std::max(offset, end);
    }
    block.offset = offset;
    arena = std::max(arena, offset + block.size);
    placed.push_back(i);
  }
  return arena;
}

void PassPlan::record_alloc(const void* ptr, size_t size) {
  recording_live_[ptr] = blocks_.size();
  PlannedBlock block;
  block.size = size;
  block.born = clock_++;
  blocks_.push_back(block);
}

bool PassPlan::record_free(const void* ptr) {
  auto it = recording_live_.find(ptr);
  if (it == recording_live_.end()) return false;
  blocks_[it->second].died = clock_++;
  recording_live_.erase(it);
  return true;
}

size_t PassPlan::finish_recording() {
  recording_live_.clear();  // those outlive the pass: unplanned
  const size_t arena = plan_offsets(blocks_);
  if (arena == 0) {
    discard_recording();
    return 0;
  }
  stage_ = Stage::kReplaying;
  restart();
  return arena;
}

void PassPlan::discard_recording() {
  blocks_.clear();
  recording_live_.clear();
  clock_ = 0;
}

bool PassPlan::overlaps_live(size_t offset, size_t size) const {
  auto after = live_.lower_bound(offset);
  if (after != live_.end() && after->first < offset + size) return true;
  return after != live_.begin() && std::prev(after)->second > offset;
}

std::optional<size_t> PassPlan::next(size_t size) {
  if (strayed_ || next_ >= blocks_.size()) return std::nullopt;
  const PlannedBlock& block = blocks_[next_++];
  if (block.size != size || (block.planned && overlaps_live(block.offset, block.size))) {
    strayed_ = true;
    return std::nullopt;
  }
  if (!block.planned) return std::nullopt;
  live_.emplace(block.offset, block.offset + block.size);
  return block.offset;
}

void PassPlan::release(size_t offset) { live_.erase(offset); }

}  // namespace pleura
