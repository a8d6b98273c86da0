// shard_epoch and block_of (data/shard.h). Test: tests/data/test_shard.cpp.
#include "data/shard.h"

#include <algorithm>

#include "engine/error.h"

namespace pleura {

Block block_of(int64_t count, int rank, int ranks) {
  PLEURA_CHECK(ranks >= 1 && rank >= 0 && rank < ranks, "[shard] rank ", rank, " of ", ranks,
               ": expected 0 <= rank < ranks");
  PLEURA_CHECK(count >= 0, "[shard] ", count, " items");
  const int64_t base = count / ranks, extra = count % ranks;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

EpochShard shard_epoch(const std::vector<int64_t>& order, int64_t batch_size, int rank, int ranks) {
  PLEURA_CHECK(batch_size >= 1, "[shard] batch size ", batch_size, ": expected at least 1");
  const int64_t n = static_cast<int64_t>(order.size()), global = batch_size * ranks;
  EpochShard shard;
  for (int64_t start = 0; start < n; start += global) {
    const int64_t size = std::min(global, n - start);
    if (size < ranks) {  // a part for every rank is impossible: left out
      shard.left_out = size;
      break;
    }
    const Block part = block_of(size, rank, ranks);
    for (int64_t p = start + part.begin; p < start + part.end; ++p) {
      shard.order.push_back(order[static_cast<size_t>(p)]);
      shard.positions.push_back(p);
    }
    ++shard.batches;
  }
  return shard;
}

}  // namespace pleura
