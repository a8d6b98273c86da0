// A memory plan for passes that repeat one sequence of allocations (an inference's image after image): the
// host allocator (engine/host_allocator.h) records the first pass's large blocks, their sizes and lifetimes,
// lays them out once in one arena, and hands the later passes' requests their planned places. Knowing every
// lifetime, the layout needs only the most the blocks ever had live at once, where a pool serving requests as
// they come holds what its splits leave unused besides (AlbuNet, 1024x1024, flip TTA: 1476 MiB against 2020
// in a simulation of its trace). Replay checks every place against the blocks live in the arena, so a pass
// that strays from the record (another size, a block kept longer) gets no place that is in use: the caller
// serves that request, and the rest of the pass, some other way. No locking, no memory of its own: the
// caller owns the arena. Tests: tests/engine/test_pass_plan.cpp.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

namespace pleura {

// One recorded block: its size and lifetime [born, died) on the pass's clock (one tick per allocation or
// free); died is kNever for a block still live when the pass ended.
struct PlannedBlock {
  static constexpr size_t kNever = ~size_t{0};
  size_t size = 0, born = 0, died = kNever;
  size_t offset = 0;     // in the arena (plan_offsets)
  bool planned = false;  // false: it outlived the pass, so replays serve it elsewhere
};

// Offsets for the blocks that died within the pass: largest first, each at the lowest offset that no
// block already placed and live at the same time covers. Returns the arena's size (the highest end).
size_t plan_offsets(std::vector<PlannedBlock>& blocks);

class PassPlan {
 public:
  enum class Stage { kRecording, kReplaying };
  Stage stage() const { return stage_; }

  // Recording (the first pass): every large block the pass allocates and frees.
  void record_alloc(const void* ptr, size_t size);
  // Whether ptr was recorded in the pass (then its death is noted).
  bool record_free(const void* ptr);
  // Ends the recording: the layout. The arena's size (0: nothing to plan, the plan stays in recording).
  size_t finish_recording();
  // Forgets the recording (a pass that ended by an exception).
  void discard_recording();

  // Replaying: the planned offset for the pass's next request of `size` bytes, or nothing when the request
  // is not the recorded one, or its place overlaps a block still live in the arena (then every later
  // request of the pass gets nothing too).
  std::optional<size_t> next(size_t size);
  // A block of the arena freed, by offset.
  void release(size_t offset);
  // A new replay pass.
  void restart() {
    next_ = 0;
    strayed_ = false;
  }
  size_t live_blocks() const { return live_.size(); }

 private:
  bool overlaps_live(size_t offset, size_t size) const;

  Stage stage_ = Stage::kRecording;
  std::vector<PlannedBlock> blocks_;
  std::unordered_map<const void*, size_t> recording_live_;  // ptr -> index in blocks_
  size_t clock_ = 0;
  size_t next_ = 0;
  bool strayed_ = false;
  std::map<size_t, size_t> live_;  // arena blocks in use: offset -> end
};

}  // namespace pleura
