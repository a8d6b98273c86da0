// A data-parallel rank's share of an epoch and of a validation set. Training: the epoch's order is cut
// into global batches of batch_size x ranks items, and each global batch into `ranks` contiguous parts
// as even as possible (the first ranks take one more); a rank's parts, in order, are its share, each item
// with its position in the whole epoch (its augmentation seed: data/loader.h), so that N ranks of batch B
// see the batches one process of batch N x B would, augmented the same. A last global batch of fewer
// items than ranks is left out (every rank must make the same number of steps). Validation: contiguous
// blocks of the file order. Test: tests/data/test_shard.cpp.
#pragma once

#include <cstdint>
#include <vector>

namespace pleura {

struct EpochShard {
  std::vector<int64_t> order;      // dataset indices of this rank's items, in order
  std::vector<int64_t> positions;  // each item's position in the epoch's whole order
  int64_t batches = 0;             // steps, the same on every rank
  int64_t left_out = 0;            // items of a last global batch too small to share
};

// The share of `rank` (0 <= rank < ranks) of `order`, for batches of `batch_size` per rank.
EpochShard shard_epoch(const std::vector<int64_t>& order, int64_t batch_size, int rank, int ranks);

// [begin, end) of the items of `rank` among `count` items in contiguous blocks (the first ranks one more).
struct Block {
  int64_t begin = 0, end = 0;
};
Block block_of(int64_t count, int rank, int ranks);

}  // namespace pleura
