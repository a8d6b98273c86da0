// Entry points of the triplet ops: checks, thresholds to sorted distinct float32 values, dispatch, and
// the step from per-threshold counts to the triplets' keep/empty decisions.
#include "engine/ops/triplet_mask.h"

#include <algorithm>
#include <cmath>

#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {

void check_scores(const Tensor& scores, const char* op) {
  check_defined(scores, op, "scores");
  PLEURA_CHECK(scores.dtype() == DType::kFloat32, "[", op, "] scores have dtype ", dtype_name(scores.dtype()),
               ", expected float32 (scores ", describe(scores), ")");
  PLEURA_CHECK(scores.ndim() == 4 && scores.size(1) == 1 && scores.numel() > 0, "[", op, "] scores ", describe(scores),
               " must be [N, 1, H, W] with N, H, W >= 1");
}

float threshold_as_float(double v, const char* op, const char* what, size_t index) {
  PLEURA_CHECK(!std::isnan(v), "[", op, "] ", what, " ", index, " is NaN; expected a number");
  return static_cast<float>(v);
}

// Sorted distinct float32 values of `values`.
std::vector<float> distinct_sorted(std::vector<float> values, const char* op) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  PLEURA_CHECK(!values.empty(), "[", op, "] no thresholds given");
  PLEURA_CHECK(static_cast<int>(values.size()) <= kMaxTripletThresholds, "[", op, "] ", values.size(),
               " distinct thresholds, at most ", kMaxTripletThresholds, " supported");
  return values;
}

size_t index_of(const std::vector<float>& sorted, float v) {
  return static_cast<size_t>(std::lower_bound(sorted.begin(), sorted.end(), v) - sorted.begin());
}

std::vector<int64_t> run_stats(const Tensor& scores, const Tensor* truth, const std::vector<float>& thr, ScoreKind kind,
                               [[maybe_unused]] const char* op) {
  std::vector<int64_t> stats;
  PLEURA_DISPATCH(scores.device(), op, threshold_stats(scores, truth, thr, kind, stats));
  return stats;
}

}  // namespace

Tensor threshold_counts(const Tensor& scores, const std::vector<double>& thresholds, ScoreKind kind) {
  const char* op = "threshold_counts";
  check_scores(scores, op);
  std::vector<float> requested;
  for (size_t k = 0; k < thresholds.size(); ++k)
    requested.push_back(threshold_as_float(thresholds[k], op, "threshold", k));
  std::vector<float> thr = distinct_sorted(requested, op);
  std::vector<int64_t> stats = run_stats(scores, nullptr, thr, kind, op);
  int64_t n_images = scores.size(0), u = static_cast<int64_t>(thr.size()),
          k_count = static_cast<int64_t>(requested.size());
  Tensor counts = Tensor::empty(Shape{n_images, k_count}, DType::kInt64);
  int64_t* out = counts.data<int64_t>();
  for (int64_t n = 0; n < n_images; ++n)
    for (int64_t k = 0; k < k_count; ++k)
      out[n * k_count + k] =
          stats[static_cast<size_t>(n * (2 * u + 1)) + index_of(thr, requested[static_cast<size_t>(k)])];
  // Counted on the host: moved to the scores' device on a GPU; on the CPU no host read to count.
  return scores.device().is_cpu() ? counts : counts.to(scores.device());
}

Tensor triplet_counts(const Tensor& scores, const std::vector<Triplet>& triplets, ScoreKind kind) {
  std::vector<double> tops;
  for (const Triplet& t : triplets) tops.push_back(t.top);
  return threshold_counts(scores, tops, kind);
}

Tensor triplet_masks(const Tensor& scores, const std::vector<Triplet>& triplets, ScoreKind kind) {
  const char* op = "triplet_masks";
  check_scores(scores, op);
  PLEURA_CHECK(!triplets.empty(), "[", op, "] no triplets given");
  std::vector<float> tops, bottoms;
  for (size_t k = 0; k < triplets.size(); ++k) {
    tops.push_back(threshold_as_float(triplets[k].top, op, "top threshold of triplet", k));
    bottoms.push_back(threshold_as_float(triplets[k].bottom, op, "bottom threshold of triplet", k));
    PLEURA_CHECK(triplets[k].min_area >= 0, "[", op, "] triplet ", k, " has min_area ", triplets[k].min_area,
                 ", expected >= 0");
  }
  std::vector<float> thr = distinct_sorted(tops, op);
  std::vector<int64_t> stats = run_stats(scores, nullptr, thr, kind, op);
  int64_t n_images = scores.size(0), u = static_cast<int64_t>(thr.size()),
          k_count = static_cast<int64_t>(triplets.size());
  std::vector<uint8_t> keep(static_cast<size_t>(n_images * k_count));
  for (int64_t n = 0; n < n_images; ++n)
    for (int64_t k = 0; k < k_count; ++k) {
      int64_t above_top = stats[static_cast<size_t>(n * (2 * u + 1)) + index_of(thr, tops[static_cast<size_t>(k)])];
      keep[static_cast<size_t>(n * k_count + k)] = above_top >= triplets[static_cast<size_t>(k)].min_area ? 1 : 0;
    }
  Tensor masks =
      Tensor::empty(Shape{n_images, k_count, scores.size(2), scores.size(3)}, DType::kUInt8, scores.device());
  PLEURA_DISPATCH(scores.device(), op, triplet_mask_fill(scores, kind, bottoms, keep, masks));
  return masks;
}

Tensor threshold_statistics(const Tensor& scores, const Tensor* truth, const std::vector<float>& thr, ScoreKind kind) {
  const char* op = "threshold_statistics";
  check_scores(scores, op);
  if (truth) {
    check_defined(*truth, op, "truth");
    PLEURA_CHECK(truth->dtype() == DType::kUInt8 || truth->dtype() == DType::kFloat32, "[", op, "] truth has dtype ",
                 dtype_name(truth->dtype()), ", expected uint8 or float32 (truth ", describe(*truth), ")");
    PLEURA_CHECK(truth->device() == scores.device(), "[", op, "] truth is on ", truth->device().str(),
                 " but scores are on ", scores.device().str());
    check_same_shape(*truth, scores, op, "truth", "scores");
  }
  PLEURA_CHECK(!thr.empty() && static_cast<int>(thr.size()) <= kMaxTripletThresholds, "[", op, "] ", thr.size(),
               " thresholds, expected 1 to ", kMaxTripletThresholds);
  for (size_t j = 0; j < thr.size(); ++j) {
    PLEURA_CHECK(!std::isnan(thr[j]), "[", op, "] threshold ", j, " is NaN");
    PLEURA_CHECK(j == 0 || thr[j - 1] < thr[j], "[", op, "] thresholds must be strictly increasing; threshold ", j,
                 " = ", thr[j], " follows ", thr[j - 1]);
  }
  std::vector<int64_t> stats = run_stats(scores, truth, thr, kind, op);
  int64_t cols = 2 * static_cast<int64_t>(thr.size()) + 1;
  Tensor out = Tensor::empty(Shape{scores.size(0), cols}, DType::kInt64);
  std::copy(stats.begin(), stats.end(), out.data<int64_t>());
  return out;
}

}  // namespace pleura
