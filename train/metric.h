// The Kaggle metric of SIIM-ACR: per-image dice of binary masks, averaged over images (or, as the
// reference's validation did, per batch and then over batches). Tests in tests/train/test_metric.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace pleura {

// Pixel counts of one image: |pred AND truth|, |pred|, |truth|.
struct DiceCounts {
  int64_t intersection = 0;
  int64_t predicted = 0;
  int64_t truth = 0;
};

enum class ScoreAverage {
  kPerImage,  // mean over images: the Kaggle score
  kPerBatch,  // mean within consecutive batches of batch_size images, then the mean over batches; a
              // short last batch weighs as much as a full one (the reference's validation score)
};

struct MetricOptions {
  // SEMANTICS.md's eps. The reference's Evaluation.py used 1e-4 in its validation search; the value only
  // matters for images with an empty truth and a non-empty prediction (eps / (P + eps) instead of 0).
  double eps = 1e-6;
  ScoreAverage average = ScoreAverage::kPerImage;
  int64_t batch_size = 2;  // kPerBatch only
};

// (2 I + eps) / (P + T + eps): 1 for empty/empty, eps / (P + eps) ~ 0 for an empty truth with a prediction.
double image_dice(const DiceCounts& c, double eps = 1e-6);

// Mean of per-image scores as options.average says. Throws on an empty list or batch_size < 1.
double average_scores(const std::vector<double>& per_image, const MetricOptions& options = {});

// predicted, truth: same shape [N, ...] (N images, any pixels each), uint8, float32 or float64, any device
// (copied to the host); a pixel is on when its value is non-zero (the reference's astype(bool)).
std::vector<DiceCounts> dice_counts(const Tensor& predicted, const Tensor& truth);
std::vector<double> per_image_dice(const Tensor& predicted, const Tensor& truth, double eps = 1e-6);
double kaggle_score(const Tensor& predicted, const Tensor& truth, const MetricOptions& options = {});

}  // namespace pleura
