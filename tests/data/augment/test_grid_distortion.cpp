// GridDistortion: the map at zero strength worked by hand (the reference's is not the identity),
// parameter ranges, binary masks and image/mask agreement. (Against albumentations + cv2: test_golden.cpp.)
#include <cmath>

#include "data/augment/grid_distortion.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment grid_distortion: distort 0 gives the reference's linspace map (not the identity), by hand") {
  GridDistortionParams p;
  p.num_steps = 5;
  p.steps_x.assign(6, 1.0);
  p.steps_y.assign(6, 1.0);
  const RemapField f = grid_distortion_field(10, 29, p);
  // x, width 29: cells of 29 // 5 = 5 pixels at 0, 5, ..., 25. A full cell k holds
  // np.linspace(5k, 5k + 5, 5) = 5k + (0, 1.25, 2.5, 3.75, 5); the last, cut short at 29, holds
  // np.linspace(25, 29, 4) = 25, 26.33, 27.67, 29.
  const double want_x[] = {0, 1.25, 2.5, 3.75, 5, 5, 6.25, 7.5, 8.75, 10, 10, 11.25, 12.5, 13.75, 15,
                           15, 16.25, 17.5, 18.75, 20, 20, 21.25, 22.5, 23.75, 25, 25, 25 + 4.0 / 3, 25 + 8.0 / 3, 29};
  for (int x = 0; x < 29; ++x) CHECK(f.map_x[static_cast<size_t>(x)] == doctest::Approx(want_x[x]).epsilon(1e-6));
  // y, height 10: cells of 2 pixels, each np.linspace(2k, 2k + 2, 2) = (2k, 2k + 2).
  const double want_y[] = {0, 2, 2, 4, 4, 6, 6, 8, 8, 10};
  for (int y = 0; y < 10; ++y) CHECK(f.map_y[static_cast<size_t>(y * 29 + 7)] == doctest::Approx(want_y[y]));
  // A factor stretches its cell: factor 1.2 on the first x cell makes it end at 6, and moves the rest.
  p.steps_x[0] = 1.2;
  const RemapField g = grid_distortion_field(10, 29, p);
  CHECK(g.map_x[4] == doctest::Approx(6.0));
  CHECK(g.map_x[9] == doctest::Approx(11.0));
  CHECK(g.map_x[28] == doctest::Approx(29.0));  // the last cell always ends at the width
}

TEST_CASE("augment grid_distortion: draws num_steps + 1 factors per axis within the limit") {
  GridDistortionConfig c;  // 5 steps, limit 0.3
  Rng rng(8);
  const GridDistortionParams p = draw_grid_distortion(c, rng);
  REQUIRE(p.steps_x.size() == 6);
  REQUIRE(p.steps_y.size() == 6);
  for (double v : p.steps_x) CHECK(std::fabs(v - 1.0) <= 0.3);
  for (double v : p.steps_y) CHECK(std::fabs(v - 1.0) <= 0.3);
  CHECK(p.steps_x != p.steps_y);
}

TEST_CASE("augment grid_distortion: masks stay binary and image and mask move together") {
  GridDistortionConfig c;
  c.distort_limit = 0.5;
  Rng rng(31);
  for (int trial = 0; trial < 10; ++trial) {
    const GrayImage mask = random_mask(41, 37, 300 + trial);
    const RemapField f = grid_distortion_field(mask.height, mask.width, draw_grid_distortion(c, rng));
    const GrayImage mask_out = remap(mask, f, Interp::kNearest);
    CHECK(is_binary_mask(mask_out));
    CHECK(count_disagreements(remap(mask, f, Interp::kLinear), mask_out) == 0);
  }
}

TEST_CASE("augment grid_distortion: an image smaller than num_steps is refused") {
  GridDistortionParams p;
  p.num_steps = 5;
  p.steps_x.assign(6, 1.0);
  p.steps_y.assign(6, 1.0);
  expect_error([&] { grid_distortion_field(3, 29, p); }, {"[grid_distortion]", "y size 3", "num_steps 5"});
}
