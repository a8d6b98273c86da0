// Tests of the Kaggle metric (train/metric.h): per-image dice by hand, its averages, masks of several
// dtypes, bad input.
#include <cmath>

#include "tests/testing.h"
#include "train/metric.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("metric: per-image dice worked by hand") {
  // (2I + 1e-6) / (P + T + 1e-6).
  CHECK(image_dice({2, 3, 2}) == doctest::Approx((4 + 1e-6) / (5 + 1e-6)).epsilon(1e-15));
  CHECK(image_dice({0, 0, 0}) == 1.0);  // empty truth, empty prediction: 1e-6 / 1e-6
  CHECK(image_dice({0, 5, 0}) == doctest::Approx(1e-6 / (5 + 1e-6)).epsilon(1e-15));  // ~2e-7, not 1
  CHECK(image_dice({0, 5, 0}) < 1e-6);
  CHECK(image_dice({0, 0, 4}) < 1e-6);  // missed pneumothorax
  CHECK(image_dice({3, 3, 3}) == doctest::Approx(1.0).epsilon(1e-15));
  // The reference's Evaluation.py eps (1e-4): 1e-4 / (5 + 1e-4) for a false positive.
  CHECK(image_dice({0, 5, 0}, 1e-4) == doctest::Approx(1e-4 / (5 + 1e-4)).epsilon(1e-15));
}

TEST_CASE("metric: per-image and per-batch averages") {
  std::vector<double> s = {0.2, 0.6, 1.0, 0.0, 0.5};
  CHECK(average_scores(s) == doctest::Approx(2.3 / 5).epsilon(1e-15));
  MetricOptions batch;
  batch.average = ScoreAverage::kPerBatch;
  batch.batch_size = 2;
  // Batches {0.2, 0.6}, {1.0, 0.0}, {0.5}: means 0.4, 0.5, 0.5 -> 1.4 / 3. The short last batch weighs 1/3.
  CHECK(average_scores(s, batch) == doctest::Approx(1.4 / 3).epsilon(1e-15));
  batch.batch_size = 3;  // {0.2, 0.6, 1.0}, {0.0, 0.5}: (0.6 + 0.25) / 2
  CHECK(average_scores(s, batch) == doctest::Approx(0.425).epsilon(1e-15));
  batch.batch_size = 1;  // per image again
  CHECK(average_scores(s, batch) == doctest::Approx(2.3 / 5).epsilon(1e-15));
}

TEST_CASE("metric: masks of three images") {
  // Image 0: pred [1 1 / 0 0], truth [1 0 / 0 0]: I = 1, P = 2, T = 1 -> (2 + e) / (3 + e).
  // Image 1: both empty -> 1. Image 2: pred [0 1 / 0 0], empty truth -> e / (1 + e).
  Tensor pred = Tensor::from_vector({1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, {3, 1, 2, 2}, DType::kUInt8);
  Tensor truth = Tensor::from_vector({1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {3, 1, 2, 2}, DType::kUInt8);
  double e = 1e-6, d0 = (2 + e) / (3 + e), d2 = e / (1 + e);
  std::vector<DiceCounts> c = dice_counts(pred, truth);
  REQUIRE(c.size() == 3);
  CHECK(c[0].intersection == 1);
  CHECK(c[0].predicted == 2);
  CHECK(c[0].truth == 1);
  CHECK(c[2].predicted == 1);
  CHECK(c[2].truth == 0);
  std::vector<double> d = per_image_dice(pred, truth);
  CHECK(d[0] == doctest::Approx(d0).epsilon(1e-15));
  CHECK(d[1] == 1.0);
  CHECK(d[2] == doctest::Approx(d2).epsilon(1e-15));
  CHECK(kaggle_score(pred, truth) == doctest::Approx((d0 + 1 + d2) / 3).epsilon(1e-15));
  MetricOptions batch;
  batch.average = ScoreAverage::kPerBatch;
  CHECK(kaggle_score(pred, truth, batch) == doctest::Approx(((d0 + 1) / 2 + d2) / 2).epsilon(1e-15));
  // Any non-zero value is on: a soft float truth (0.5, 0.02) and a 255 byte mask give the same counts.
  Tensor soft = Tensor::from_vector({0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {3, 1, 2, 2});
  Tensor pred255 = Tensor::from_vector({255, 255, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0}, {3, 1, 2, 2}, DType::kUInt8);
  CHECK(per_image_dice(pred255, soft) == d);
  Tensor pred64 = Tensor::from_vector({1, 0.02, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, {3, 1, 2, 2}, DType::kFloat64);
  CHECK(per_image_dice(pred64, truth) == d);
}

TEST_CASE("metric: bad input") {
  Tensor a = Tensor::zeros({2, 1, 4, 4}, DType::kUInt8);
  expect_error([&] { dice_counts(a, Tensor::zeros({2, 1, 4, 5}, DType::kUInt8)); }, {"[metric]", "[2, 1, 4, 5]"});
  expect_error([&] { dice_counts(a, Tensor::zeros({2, 1, 4, 4}, DType::kInt64)); }, {"[metric]", "int64"});
  expect_error([&] { dice_counts(Tensor::zeros({0, 4}), Tensor::zeros({0, 4})); }, {"[metric]", "at least one pixel"});
  expect_error([&] { average_scores({}); }, {"[metric]", "no images"});
  MetricOptions bad;
  bad.average = ScoreAverage::kPerBatch;
  bad.batch_size = 0;
  expect_error([&] { average_scores({1.0}, bad); }, {"[metric]", "batch_size is 0"});
}
