// CPU kernels of the triplet ops (engine/ops/triplet_mask.h); twin: cuda/triplet_mask.cu.
// Pixels are taken in tiles of 4096 (p formed once per tile: the shared portable sigmoid for logits),
// then every threshold is counted over the tile in a branch-free loop the compiler vectorises. Counts
// are exact integers, so the split into tasks cannot change them.
#include "engine/ops/triplet_mask.h"

#include <algorithm>

#include "engine/parallel.h"
#include "engine/ops/triplet_mask_math.h"

namespace pleura::cpu {

namespace {

constexpr int64_t kTile = 4096;
constexpr int64_t kSegment = 1 << 16;  // pixels per parallel task

// The tile's probabilities: the input itself, or its portable sigmoid in `buffer` for logits.
const float* tile_p(const float* x, int64_t len, ScoreKind kind, float* buffer) {
  if (kind == ScoreKind::kProbability) return x;
  for (int64_t i = 0; i < len; ++i) buffer[i] = triplet_math::portable_sigmoid(x[i]);
  return buffer;
}

// flags[i] = 1 where truth is non-zero (NaN counts as non-zero, as numpy's astype(bool)).
void load_truth(const Tensor& truth, int64_t offset, int64_t len, int32_t* flags) {
  if (truth.dtype() == DType::kUInt8) {
    const uint8_t* t = truth.data<uint8_t>() + offset;
    for (int64_t i = 0; i < len; ++i) flags[i] = t[i] != 0;
  } else {
    const float* t = truth.data<float>() + offset;
    for (int64_t i = 0; i < len; ++i) flags[i] = t[i] != 0.0f;
  }
}

}  // namespace

void threshold_stats(const Tensor& scores, const Tensor* truth, const std::vector<float>& thr, ScoreKind kind,
                     std::vector<int64_t>& stats) {
  const float* x = scores.data<float>();
  int64_t n_images = scores.size(0), hw = scores.size(2) * scores.size(3);
  int64_t u = static_cast<int64_t>(thr.size()), cols = 2 * u + 1;
  int64_t segments = (hw + kSegment - 1) / kSegment;
  std::vector<int64_t> partial(static_cast<size_t>(n_images * segments * cols), 0);
  parallel_for(n_images * segments, 1, [&](int64_t j0, int64_t j1) {
    std::vector<float> buffer(kTile);
    std::vector<int32_t> flags(kTile);
    for (int64_t j = j0; j < j1; ++j) {
      int64_t n = j / segments, seg = j % segments;
      int64_t seg_end = std::min(hw, (seg + 1) * kSegment);
      int64_t* out = &partial[static_cast<size_t>(j * cols)];
      for (int64_t start = seg * kSegment; start < seg_end; start += kTile) {
        int64_t len = std::min(kTile, seg_end - start);
        const float* p = tile_p(x + n * hw + start, len, kind, buffer.data());
        if (truth) load_truth(*truth, n * hw + start, len, flags.data());
        int32_t truth_count = 0;
        if (truth)
          for (int64_t i = 0; i < len; ++i) truth_count += flags[i];
        out[2 * u] += truth_count;
        for (int64_t k = 0; k < u; ++k) {
          const float th = thr[static_cast<size_t>(k)];
          int32_t above = 0, above_truth = 0;
          if (truth) {
            for (int64_t i = 0; i < len; ++i) {
              int32_t gt = p[i] > th;
              above += gt;
              above_truth += gt & flags[i];
            }
          } else {
            for (int64_t i = 0; i < len; ++i) above += p[i] > th;
          }
          out[k] += above;
          out[u + k] += above_truth;
        }
      }
    }
  });
  stats.assign(static_cast<size_t>(n_images * cols), 0);
  for (int64_t j = 0; j < n_images * segments; ++j)
    for (int64_t c = 0; c < cols; ++c)
      stats[static_cast<size_t>((j / segments) * cols + c)] += partial[static_cast<size_t>(j * cols + c)];
}

void triplet_mask_fill(const Tensor& scores, ScoreKind kind, const std::vector<float>& bottoms,
                       const std::vector<uint8_t>& keep, Tensor& masks) {
  const float* x = scores.data<float>();
  uint8_t* m = masks.data<uint8_t>();
  int64_t n_images = scores.size(0), hw = scores.size(2) * scores.size(3);
  int64_t k_count = static_cast<int64_t>(bottoms.size());
  int64_t tiles = (hw + kTile - 1) / kTile;
  parallel_for(n_images * tiles, 1, [&](int64_t j0, int64_t j1) {
    std::vector<float> buffer(kTile);
    for (int64_t j = j0; j < j1; ++j) {
      int64_t n = j / tiles, start = (j % tiles) * kTile, len = std::min(kTile, hw - start);
      const float* p = tile_p(x + n * hw + start, len, kind, buffer.data());
      for (int64_t k = 0; k < k_count; ++k) {
        uint8_t* out = m + (n * k_count + k) * hw + start;
        if (!keep[static_cast<size_t>(n * k_count + k)]) {
          std::fill(out, out + len, uint8_t{0});
          continue;
        }
        const float th = bottoms[static_cast<size_t>(k)];
        for (int64_t i = 0; i < len; ++i) out[i] = p[i] > th;
      }
    }
  });
}

}  // namespace pleura::cpu
