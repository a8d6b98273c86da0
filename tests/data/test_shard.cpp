// A data-parallel rank's share of an epoch (data/shard.h): worked examples, every item of the epoch once
// across the ranks and in the global batches of one process, the left-out tail, and the loader fed a share
// making, rank by rank, the same pixels as one process with the whole batch (the augmentation follows the
// position in the whole epoch).
#include "data/shard.h"

#include <cstring>
#include <set>

#include "data/loader.h"
#include "engine/random.h"
#include "tests/data/data_testing.h"
#include "tests/testing.h"

using namespace pleura;

namespace {

std::vector<int64_t> shuffled(int64_t n, uint64_t seed) {
  std::vector<int64_t> o(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) o[static_cast<size_t>(i)] = i;
  Rng rng(seed);
  for (size_t i = o.size(); i > 1; --i) std::swap(o[i - 1], o[rng.below(i)]);
  return o;
}

}  // namespace

TEST_CASE("shard: worked example, 11 items, batch 2, 2 ranks") {
  const std::vector<int64_t> order = {50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60};
  // Global batches of 4: [50 51 | 52 53] [54 55 | 56 57] and the last 3 items [58 59 | 60].
  const EpochShard r0 = shard_epoch(order, 2, 0, 2), r1 = shard_epoch(order, 2, 1, 2);
  CHECK(r0.order == std::vector<int64_t>{50, 51, 54, 55, 58, 59});
  CHECK(r0.positions == std::vector<int64_t>{0, 1, 4, 5, 8, 9});
  CHECK(r1.order == std::vector<int64_t>{52, 53, 56, 57, 60});
  CHECK(r1.positions == std::vector<int64_t>{2, 3, 6, 7, 10});
  CHECK(r0.batches == 3);
  CHECK(r1.batches == 3);
  CHECK(r0.left_out == 0);
  // One rank: the order itself.
  const EpochShard one = shard_epoch(order, 4, 0, 1);
  CHECK(one.order == order);
  CHECK(one.batches == 3);
}

TEST_CASE("shard: a last global batch smaller than the number of ranks is left out on every rank") {
  const std::vector<int64_t> order = shuffled(14, 3);  // batch 2 x 4 ranks: 8 + 6, then nothing; 17: 8 + 8 + 1
  for (int r = 0; r < 4; ++r) {
    CHECK(shard_epoch(order, 2, r, 4).batches == 2);
    CHECK(shard_epoch(order, 2, r, 4).left_out == 0);
  }
  const std::vector<int64_t> seventeen = shuffled(17, 4);
  for (int r = 0; r < 4; ++r) {
    const EpochShard s = shard_epoch(seventeen, 2, r, 4);
    CHECK(s.batches == 2);
    CHECK(s.left_out == 1);
    CHECK(s.order.size() == 4);
  }
}

TEST_CASE("shard: every item once across the ranks, each global batch that of one process") {
  for (int ranks : {1, 2, 3, 5}) {
    for (int64_t batch : {1, 2, 4}) {
      const std::vector<int64_t> order = shuffled(37, static_cast<uint64_t>(ranks * 10 + batch));
      std::vector<EpochShard> shards;
      for (int r = 0; r < ranks; ++r) shards.push_back(shard_epoch(order, batch, r, ranks));
      std::set<int64_t> seen_positions;
      int64_t kept = 0;
      for (const EpochShard& s : shards) {
        CHECK(s.batches == shards[0].batches);
        REQUIRE(s.order.size() == s.positions.size());
        for (size_t i = 0; i < s.order.size(); ++i) {
          CHECK(order[static_cast<size_t>(s.positions[i])] == s.order[i]);
          CHECK(seen_positions.insert(s.positions[i]).second);
        }
        // The loader's batches of this share: step k holds only positions of global batch k.
        for (size_t i = 0; i < s.order.size(); ++i)
          CHECK(s.positions[i] / (batch * ranks) == static_cast<int64_t>(i) / batch);
        kept += static_cast<int64_t>(s.order.size());
      }
      CHECK(kept + shards[0].left_out == 37);
      CHECK(shards[0].left_out < ranks);
    }
  }
}

TEST_CASE("shard: the loader fed a share makes the pixels one process makes for those positions") {
  LoaderConfig whole_config;
  whole_config.batch_size = 4;
  whole_config.num_workers = 1;
  whole_config.augment.size = 32;
  whole_config.augment.distortion.p = 0.7;
  whole_config.seed = 9;
  const std::vector<int64_t> order = shuffled(10, 5);
  Loader whole(testing::synthetic_item, whole_config);
  whole.start_epoch(3, order);
  std::vector<float> whole_images;
  while (auto b = whole.next()) whole_images.insert(whole_images.end(), b->images.data(), b->images.data() + b->images.shape().numel());

  const int64_t per_item = 3 * 32 * 32;
  for (int rank = 0; rank < 2; ++rank) {
    LoaderConfig c = whole_config;
    c.batch_size = 2;
    Loader part(testing::synthetic_item, c);
    const EpochShard s = shard_epoch(order, 2, rank, 2);
    part.start_epoch(3, s.order, s.positions);
    CHECK(part.num_batches() == s.batches);
    size_t i = 0;
    while (auto b = part.next()) {
      for (int64_t k = 0; k < b->images.shape()[0]; ++k, ++i) {
        const float* mine = b->images.data() + k * per_item;
        const float* theirs = whole_images.data() + s.positions[i] * per_item;
        CHECK(std::memcmp(mine, theirs, per_item * sizeof(float)) == 0);
      }
    }
    CHECK(i == s.order.size());
  }
  CHECK_THROWS_WITH_AS(whole.start_epoch(0, order, {1, 2}), doctest::Contains("2 positions for 10 items"), Error);
}

TEST_CASE("shard: validation blocks and bad arguments") {
  CHECK(block_of(10, 0, 3).begin == 0);
  CHECK(block_of(10, 0, 3).end == 4);
  CHECK(block_of(10, 1, 3).begin == 4);
  CHECK(block_of(10, 2, 3).end == 10);
  CHECK(block_of(2, 2, 3).begin == 2);
  CHECK(block_of(2, 2, 3).end == 2);  // fewer items than ranks: an empty block
  CHECK_THROWS_WITH_AS(block_of(5, 3, 3), doctest::Contains("rank 3 of 3"), Error);
  CHECK_THROWS_WITH_AS(shard_epoch({1, 2}, 0, 0, 1), doctest::Contains("batch size 0"), Error);
}
