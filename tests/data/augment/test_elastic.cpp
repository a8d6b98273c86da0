// ElasticTransform: Gaussian blur by hand, zero strength identity, field statistics, binary masks and
// image/mask agreement. (Against scipy and cv2: test_golden.cpp.)
#include <cmath>

#include "data/augment/elastic.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment elastic: Gaussian blur with half-sample reflection, worked by hand") {
  // sigma 0.5: radius int(4 * 0.5 + 0.5) = 2, weights exp(-2 x^2) for x = -2..2, normalised.
  const double e1 = std::exp(-2.0), e2 = std::exp(-8.0), s = 1 + 2 * e1 + 2 * e2;
  // One row [1, 0, 0, 0] (height 1: the column pass sees one row reflected onto itself, weights sum 1).
  // Along the row, 'reflect' extends it to [0 1 | 1 0 0 0 | 0 0]: out[0] = (e2*0 + e1*1 + 1 + e1*0 + e2*0)/s.
  std::vector<double> row = {1, 0, 0, 0};
  gaussian_filter_reflect(row, 1, 4, 0.5);
  CHECK(row[0] == doctest::Approx((1 + e1) / s).epsilon(1e-14));
  CHECK(row[1] == doctest::Approx((e1 + e2) / s).epsilon(1e-14));
  CHECK(row[2] == doctest::Approx(e2 / s).epsilon(1e-14));
  CHECK(row[3] == doctest::Approx(0.0));
  // A constant field stays constant; sigma 0 changes nothing.
  std::vector<double> flat(35, 0.25);
  gaussian_filter_reflect(flat, 5, 7, 6.0);
  for (double v : flat) CHECK(v == doctest::Approx(0.25).epsilon(1e-14));
  std::vector<double> same = {1, 2, 3, 4};
  gaussian_filter_reflect(same, 2, 2, 0.0);
  CHECK(same == std::vector<double>{1, 2, 3, 4});
}

TEST_CASE("augment elastic: alpha 0 and alpha_affine 0 is the identity") {
  const GrayImage src = random_image(24, 20, 9);
  ElasticConfig c;
  c.alpha = 0.0;
  c.alpha_affine = 0.0;
  Rng rng(3);
  const ElasticParams p = draw_elastic(c, src.height, src.width, rng);
  CHECK(count_differences(elastic_transform(src, p, Interp::kLinear), src) == 0);
  CHECK(count_differences(elastic_transform(src, p, Interp::kNearest), src) == 0);
}

TEST_CASE("augment elastic: the solution's fields are smooth displacements of a few pixels") {
  ElasticConfig c;  // alpha 120, sigma 6, alpha_affine 3.6
  Rng rng(17);
  const ElasticParams p = draw_elastic(c, 128, 128, rng);
  for (float o : p.anchor_offsets) CHECK(std::fabs(o) <= 3.6f);
  double sum2 = 0.0, step2 = 0.0;
  for (int64_t y = 0; y < 128; ++y)
    for (int64_t x = 0; x + 1 < 128; ++x) {
      const double v = p.dx[static_cast<size_t>(y * 128 + x)];
      const double d = p.dx[static_cast<size_t>(y * 128 + x + 1)] - v;
      sum2 += v * v, step2 += d * d;
    }
  const double rms = std::sqrt(sum2 / (128 * 127)), step_rms = std::sqrt(step2 / (128 * 127));
  // Blurring U(-1,1) (variance 1/3) with a 2-D Gaussian of std 6 leaves variance 1/3 / (4 pi 36), so
  // the rms displacement is about 120 * 0.0272 = 3.3 pixels; neighbours differ far less.
  CHECK(rms > 2.0);
  CHECK(rms < 5.0);
  CHECK(step_rms < 0.25 * rms);
}

TEST_CASE("augment elastic: masks stay binary and image and mask move together") {
  ElasticConfig c;
  c.alpha = 60.0;
  c.sigma = 3.0;
  c.alpha_affine = 3.0;
  Rng rng(23);
  for (int trial = 0; trial < 6; ++trial) {
    const GrayImage mask = random_mask(48, 40, 200 + trial);
    const ElasticParams p = draw_elastic(c, mask.height, mask.width, rng);
    const GrayImage mask_out = elastic_transform(mask, p, Interp::kNearest);
    CHECK(is_binary_mask(mask_out));
    CHECK(count_differences(mask_out, mask) > 0);
    // Two resamplings in a row (affine, then the field): only "on means > 0" is guaranteed.
    CHECK(count_disagreements(elastic_transform(mask, p, Interp::kLinear), mask_out, 1) == 0);
  }
}
