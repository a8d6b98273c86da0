// ShiftScaleRotate: matrix worked by hand, zero strength identity, parameter ranges, binary masks and
// image/mask agreement.
#include <cmath>

#include "data/augment/shift_scale_rotate.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment shift_scale_rotate: the matrix of a pure shift and of a rotation, by hand") {
  // No rotation, scale 1, dx 0.25 of width 8, dy -0.5 of height 4: translation (2, -2).
  const Affine t = shift_scale_rotate_matrix({0.0, 1.0, 0.25, -0.5}, 4, 8);
  const double want_t[6] = {1, 0, 2, 0, 1, -2};
  for (int i = 0; i < 6; ++i) CHECK(t.m[i] == doctest::Approx(want_t[i]).epsilon(1e-15));
  // 30 degrees, scale 2, centre (4, 2): alpha = 2 cos 30 = sqrt 3, beta = 2 sin 30 = 1;
  // m2 = (1 - sqrt 3) * 4 - 1 * 2, m5 = 1 * 4 + (1 - sqrt 3) * 2.
  const Affine r = shift_scale_rotate_matrix({30.0, 2.0, 0.0, 0.0}, 4, 8);
  const double s3 = std::sqrt(3.0);
  const double want_r[6] = {s3, 1.0, (1 - s3) * 4 - 2, -1.0, s3, 4 + (1 - s3) * 2};
  for (int i = 0; i < 6; ++i) CHECK(r.m[i] == doctest::Approx(want_r[i]).epsilon(1e-14));
}

TEST_CASE("augment shift_scale_rotate: zero shift, scale 1 and angle 0 is the identity") {
  const GrayImage src = random_image(19, 23, 8);
  const Affine m = shift_scale_rotate_matrix({0.0, 1.0, 0.0, 0.0}, src.height, src.width);
  CHECK(count_differences(warp_affine(src, m, Interp::kLinear), src) == 0);
  CHECK(count_differences(warp_affine(src, m, Interp::kNearest), src) == 0);
}

TEST_CASE("augment shift_scale_rotate: draws stay within their limits") {
  ShiftScaleRotateConfig c;  // shift 0.0625, scale 0.1, rotate 45
  Rng rng(5);
  double lo = 1e9, hi = -1e9;
  for (int i = 0; i < 2000; ++i) {
    const ShiftScaleRotateParams p = draw_shift_scale_rotate(c, rng);
    CHECK(std::fabs(p.angle_deg) <= 45.0);
    CHECK(std::fabs(p.scale - 1.0) <= 0.1);
    CHECK(std::fabs(p.dx) <= 0.0625);
    CHECK(std::fabs(p.dy) <= 0.0625);
    lo = std::min(lo, p.angle_deg), hi = std::max(hi, p.angle_deg);
  }
  CHECK(lo < -40.0);  // the whole range is used
  CHECK(hi > 40.0);
}

TEST_CASE("augment shift_scale_rotate: masks stay binary and image and mask move together") {
  Rng rng(21);
  ShiftScaleRotateConfig c;
  c.shift_limit = 0.2;
  c.scale_limit = 0.3;
  c.rotate_limit = 180;
  for (int trial = 0; trial < 20; ++trial) {
    const GrayImage mask = random_mask(40, 33, 100 + trial);
    const Affine m = shift_scale_rotate_matrix(draw_shift_scale_rotate(c, rng), mask.height, mask.width);
    const GrayImage img_out = warp_affine(mask, m, Interp::kLinear);
    const GrayImage mask_out = warp_affine(mask, m, Interp::kNearest);
    CHECK(is_binary_mask(mask_out));
    CHECK(count_disagreements(img_out, mask_out) == 0);
  }
  // One marked pixel: after a shift by (+3, +2) pixels it is at (x+3, y+2) in both.
  GrayImage marked(16, 16, 0);
  marked.at(5, 4) = 255;
  const Affine shift = shift_scale_rotate_matrix({0.0, 1.0, 3.0 / 16, 2.0 / 16}, 16, 16);
  CHECK(warp_affine(marked, shift, Interp::kLinear).at(7, 7) == 255);
  CHECK(warp_affine(marked, shift, Interp::kNearest).at(7, 7) == 255);
}
