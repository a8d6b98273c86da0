// OpticalDistortion: the k = 0 map worked by hand (a half-pixel shift in the reference, not the
// identity), barrel vs pincushion, rounding of the shift, binary masks and image/mask agreement.
// (Against cv2.initUndistortRectifyMap: test_golden.cpp.)
#include <cmath>

#include "data/augment/optical_distortion.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment optical_distortion: k 0 samples half a pixel right and down, by hand") {
  // u = f * x + u0 with x = (j - (w-1)/2) / f and u0 = w/2: u = j + 0.5 (likewise v = i + 0.5).
  const RemapField f = optical_distortion_field(6, 8, {0.0, 0.0, 0.0});
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 8; ++j) {
      CHECK(f.map_x[static_cast<size_t>(i * 8 + j)] == doctest::Approx(j + 0.5).epsilon(1e-7));
      CHECK(f.map_y[static_cast<size_t>(i * 8 + j)] == doctest::Approx(i + 0.5).epsilon(1e-7));
    }
  // So bilinear resampling averages 2x2 blocks: (a + b + c + d) * 256 + 512 >> 10; the last row and
  // column reflect (index 3 of a 3-wide image reads column 1).
  const GrayImage src = image_from(2, 3, {0, 10, 20, 30, 40, 51});
  const RemapField g = optical_distortion_field(2, 3, {0.0, 0.0, 0.0});
  // (0,0): 0+10+30+40 = 80 -> 20; (0,1): 10+20+40+51 = 121 -> (30976 + 512) >> 10 = 30;
  // (0,2): columns 2 and 1: 20+10+51+40 = 121 -> 30; row 1 reflects row 2 to row 0: (1,0): 30+40+0+10 -> 20.
  CHECK(count_differences(remap(src, g, Interp::kLinear), image_from(2, 3, {20, 30, 30, 20, 30, 30})) == 0);
}

TEST_CASE("augment optical_distortion: positive k reads from further out (barrel), negative nearer") {
  const RemapField pos = optical_distortion_field(64, 64, {1.0, 0.0, 0.0});
  const RemapField neg = optical_distortion_field(64, 64, {-1.0, 0.0, 0.0});
  // Corner pixel (0, 0): x = y = -31.5/64, r^2 = 0.4845; kr = 1 + k r^2 + k r^4.
  const double x = -31.5 / 64, r2 = 2 * x * x;
  CHECK(pos.map_x[0] == doctest::Approx(64 * x * (1 + r2 + r2 * r2) + 32).epsilon(1e-6));
  CHECK(neg.map_x[0] == doctest::Approx(64 * x * (1 - r2 - r2 * r2) + 32).epsilon(1e-6));
  CHECK(pos.map_x[0] < 0.0f);
  CHECK(neg.map_x[0] > 0.5f);
}

TEST_CASE("augment optical_distortion: the principal point shift is rounded half to even") {
  OpticalDistortionConfig c;  // shift_limit 0.5: round(U(-0.5, 0.5)) is always 0
  Rng rng(2);
  for (int i = 0; i < 500; ++i) {
    const OpticalDistortionParams p = draw_optical_distortion(c, rng);
    CHECK(std::fabs(p.k) <= 2.0);
    CHECK(p.dx == 0.0);
    CHECK(p.dy == 0.0);
  }
  c.shift_limit = 3.0;
  bool moved = false;
  for (int i = 0; i < 50; ++i) {
    const OpticalDistortionParams p = draw_optical_distortion(c, rng);
    CHECK(p.dx == std::round(p.dx));
    moved = moved || p.dx != 0.0;
  }
  CHECK(moved);
}

TEST_CASE("augment optical_distortion: masks stay binary and image and mask move together") {
  OpticalDistortionConfig c;
  Rng rng(41);
  for (int trial = 0; trial < 10; ++trial) {
    const GrayImage mask = random_mask(36, 44, 400 + trial);
    const RemapField f = optical_distortion_field(mask.height, mask.width, draw_optical_distortion(c, rng));
    const GrayImage mask_out = remap(mask, f, Interp::kNearest);
    CHECK(is_binary_mask(mask_out));
    CHECK(count_disagreements(remap(mask, f, Interp::kLinear), mask_out) == 0);
  }
}
