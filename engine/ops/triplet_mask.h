// Triplet post-processing of the solution: per image, count(p > top) decides whether the image is empty
// (count < min_area), otherwise its mask is p > bottom. Counts for many thresholds in one pass, the masks,
// and the per-image statistics the fast triplet search needs (train/triplet_search.h). No autograd.
// CPU kernels in cpu/triplet_mask.cpp, CUDA kernels in cuda/triplet_mask.cu (both share
// engine/ops/triplet_mask_math.h), tests in tests/ops/test_triplet_mask.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace pleura {

// (top, min_area, bottom). The thresholds are compared as float32, as the reference compares its
// float32 probabilities: p > static_cast<float>(top).
struct Triplet {
  double top = 0.75;
  int64_t min_area = 1000;
  double bottom = 0.3;
};

enum class ScoreKind {
  kProbability,  // scores are p
  kLogit,        // scores are logits; p = triplet_math::portable_sigmoid(x), float32, the same bits on CPU and CUDA
};

// Most distinct thresholds one call may use (the CUDA kernel keeps them and two histograms in shared memory).
constexpr int kMaxTripletThresholds = 2048;

// scores: float32 [N, 1, H, W], N, H, W >= 1. Returns int64 [N, K] on the scores' device:
// counts[n][k] = number of pixels of image n with p > float(thresholds[k]). Any order, repeats allowed.
Tensor threshold_counts(const Tensor& scores, const std::vector<double>& thresholds,
                        ScoreKind kind = ScoreKind::kProbability);

// The same for triplets: int64 [N, K], counts[n][k] = pixels of image n with p > top_k (the count that
// min_area_k is compared with).
Tensor triplet_counts(const Tensor& scores, const std::vector<Triplet>& triplets,
                      ScoreKind kind = ScoreKind::kProbability);

// scores: float32 [N, 1, H, W]. Returns uint8 [N, K, H, W] on the scores' device: channel k is triplet k's
// mask, 1 where p > bottom_k, and all 0 for an image whose count(p > top_k) < min_area_k (min_area >= 0).
Tensor triplet_masks(const Tensor& scores, const std::vector<Triplet>& triplets,
                     ScoreKind kind = ScoreKind::kProbability);

// Per-image statistics for thresholds thr (U = thr.size(), float32 values, strictly increasing):
// int64 [N, 2U + 1] on the host (a CPU tensor whatever the inputs' device):
//   [n][j]         pixels of image n with p > thr[j]              (j < U)
//   [n][U + j]     truth pixels of image n with p > thr[j]
//   [n][2U]        truth pixels of image n
// truth: uint8 or float32 [N, 1, H, W] on the scores' device; a pixel is truth when its value is non-zero
// (the reference's astype(bool)). Without truth (nullptr) the last U + 1 columns are zero.
Tensor threshold_statistics(const Tensor& scores, const Tensor* truth, const std::vector<float>& thr,
                            ScoreKind kind = ScoreKind::kProbability);

namespace cpu {
// thr: strictly increasing, 1..kMaxTripletThresholds values. stats: N * (2U + 1) values as above.
void threshold_stats(const Tensor& scores, const Tensor* truth, const std::vector<float>& thr, ScoreKind kind,
                     std::vector<int64_t>& stats);
// keep: N * K flags (image n keeps triplet k's mask); bottoms: K float32 thresholds. masks: uint8 [N, K, H, W].
void triplet_mask_fill(const Tensor& scores, ScoreKind kind, const std::vector<float>& bottoms,
                       const std::vector<uint8_t>& keep, Tensor& masks);
}  // namespace cpu
namespace cuda {
void threshold_stats(const Tensor& scores, const Tensor* truth, const std::vector<float>& thr, ScoreKind kind,
                     std::vector<int64_t>& stats);
void triplet_mask_fill(const Tensor& scores, ScoreKind kind, const std::vector<float>& bottoms,
                       const std::vector<uint8_t>& keep, Tensor& masks);
}  // namespace cuda

}  // namespace pleura
