// Per-image dice and its averages (train/metric.h).
#include "train/metric.h"

#include <algorithm>
#include <type_traits>

#include "engine/parallel.h"
#include "engine/op_checks.h"

namespace pleura {

namespace {

constexpr const char* kOp = "metric";

// Calls fn with the tensor's typed data pointer (uint8, float32 or float64).
template <class Fn>
void with_mask_data(const Tensor& t, const char* arg, Fn&& fn) {
  switch (t.dtype()) {
    case DType::kUInt8:
      fn(t.data<uint8_t>());
      return;
    case DType::kFloat32:
      fn(t.data<float>());
      return;
    case DType::kFloat64:
      fn(t.data<double>());
      return;
    default:
      throw_error(cat("[", kOp, "] ", arg, " has dtype ", dtype_name(t.dtype()),
                      ", expected uint8, float32 or float64 (", arg, " ", describe(t), ")"));
  }
}

}  // namespace

double image_dice(const DiceCounts& c, double eps) {
  return (2.0 * static_cast<double>(c.intersection) + eps) /
         (static_cast<double>(c.predicted) + static_cast<double>(c.truth) + eps);
}

double average_scores(const std::vector<double>& per_image, const MetricOptions& options) {
  PLEURA_CHECK(!per_image.empty(), "[", kOp, "] no images to average");
  if (options.average == ScoreAverage::kPerImage) {
    double s = 0.0;
    for (double v : per_image) s += v;
    return s / static_cast<double>(per_image.size());
  }
  PLEURA_CHECK(options.batch_size >= 1, "[", kOp, "] batch_size is ", options.batch_size, ", expected >= 1");
  size_t batch = static_cast<size_t>(options.batch_size);
  double total = 0.0;
  size_t batches = 0;
  for (size_t start = 0; start < per_image.size(); start += batch, ++batches) {
    size_t end = std::min(per_image.size(), start + batch);
    double s = 0.0;
    for (size_t i = start; i < end; ++i) s += per_image[i];
    total += s / static_cast<double>(end - start);
  }
  return total / static_cast<double>(batches);
}

std::vector<DiceCounts> dice_counts(const Tensor& predicted, const Tensor& truth) {
  check_defined(predicted, kOp, "predicted");
  check_defined(truth, kOp, "truth");
  check_same_shape(truth, predicted, kOp, "truth", "predicted");
  PLEURA_CHECK(predicted.ndim() >= 1 && predicted.numel() > 0, "[", kOp, "] predicted ", describe(predicted),
               " must be [N, ...] with at least one pixel");
  Tensor pred = predicted.to(Device::cpu()), tru = truth.to(Device::cpu());
  int64_t n_images = predicted.size(0), per_image = predicted.numel() / n_images;
  std::vector<DiceCounts> counts(static_cast<size_t>(n_images));
  // A pixel is on when its value is non-zero (NaN included, as numpy's astype(bool)).
  with_mask_data(pred, "predicted", [&](const auto* pp) {
    with_mask_data(tru, "truth", [&](const auto* tp) {
      using P = std::remove_cv_t<std::remove_pointer_t<decltype(pp)>>;
      using T = std::remove_cv_t<std::remove_pointer_t<decltype(tp)>>;
      parallel_for(n_images, 1, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
          const P* p = pp + n * per_image;
          const T* t = tp + n * per_image;
          int64_t inter = 0, np = 0, nt = 0;
          for (int64_t i = 0; i < per_image; ++i) {
            int64_t a = p[i] != P(0), b = t[i] != T(0);
            inter += a & b;
            np += a;
            nt += b;
          }
          counts[static_cast<size_t>(n)] = {inter, np, nt};
        }
      });
    });
  });
  return counts;
}

std::vector<double> per_image_dice(const Tensor& predicted, const Tensor& truth, double eps) {
  std::vector<double> out;
  for (const DiceCounts& c : dice_counts(predicted, truth)) out.push_back(image_dice(c, eps));
  return out;
}

double kaggle_score(const Tensor& predicted, const Tensor& truth, const MetricOptions& options) {
  return average_scores(per_image_dice(predicted, truth, options.eps), options);
}

}  // namespace pleura
