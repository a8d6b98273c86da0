// warpAffine / remap semantics on small images worked by hand: reflect-101 borders, exact 90-degree
// rotation, identities, fixed-point bilinear weights, errors. (Bit-exactness against OpenCV itself is
// in test_golden.cpp.)
#include "data/augment/border.h"
#include "data/augment/shift_scale_rotate.h"
#include "data/augment/warp.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment warp: reflect-101 and half-sample reflection indices") {
  // n = 4, "dcb|abcd|cba": -1 -> 1, -3 -> 3, 4 -> 2, 6 -> 0, and far away the pattern repeats every 6.
  const int64_t r101[] = {reflect_101(-1, 4), reflect_101(-3, 4), reflect_101(4, 4), reflect_101(6, 4),
                          reflect_101(7, 4), reflect_101(-7, 4), reflect_101(0, 1), reflect_101(-5, 1)};
  const int64_t want101[] = {1, 3, 2, 0, 1, 1, 0, 0};
  for (int i = 0; i < 8; ++i) CHECK(r101[i] == want101[i]);
  // scipy 'reflect', n = 4, "cba|abcd|dcb": -1 -> 0, -3 -> 2, 4 -> 3, 6 -> 1, 8 -> 0 (period 8).
  const int64_t rh[] = {reflect_half(-1, 4), reflect_half(-3, 4), reflect_half(4, 4), reflect_half(6, 4),
                        reflect_half(8, 4), reflect_half(-9, 4)};
  const int64_t wanth[] = {0, 2, 3, 1, 0, 0};
  for (int i = 0; i < 6; ++i) CHECK(rh[i] == wanth[i]);
}

TEST_CASE("augment warp: a shift by whole pixels fills the border by reflect-101 (3x4 by hand)") {
  const GrayImage src = image_from(3, 4, {10, 20, 30, 40,  //
                                          50, 60, 70, 80,  //
                                          90, 100, 110, 120});
  Affine shift;  // x' = x + 2, y' = y - 1: output (x, y) reads source (x - 2, y + 1)
  shift.m = {1, 0, 2, 0, 1, -1};
  // Columns -2, -1 reflect to 2, 1; row 3 reflects to row 1.
  const GrayImage want = image_from(3, 4, {70, 60, 50, 60,  //
                                           110, 100, 90, 100,  //
                                           70, 60, 50, 60});
  for (Interp interp : {Interp::kLinear, Interp::kNearest}) {
    CHECK(count_differences(warp_affine(src, shift, interp), want) == 0);
  }
}

TEST_CASE("augment warp: nearest and bilinear remap at hand-picked points") {
  const GrayImage src = image_from(2, 3, {0, 64, 128,  //
                                          32, 96, 255});
  RemapField f{1, 5, {-1.0f, 3.0f, 0.5f, 1.25f, 1.5f}, {0.0f, 1.0f, 0.5f, 0.0f, 0.0f}};
  // Nearest (round half to even): x -1 -> 1 (reflect), 3 -> 1, 0.5 -> 0, 1.25 -> 1, 1.5 -> 2;
  // y 0.5 -> 0.
  CHECK(count_differences(remap(src, f, Interp::kNearest), image_from(1, 5, {64, 96, 0, 64, 128})) == 0);
  // Bilinear, weights in 1/1024: at (0.5, 0.5) each of 0, 64, 32, 96 weighs 256:
  // (192 * 256 + 512) >> 10 = 48. At (1.25, 0): 64 * 768 + 128 * 256 = 81920 -> (81920 + 512) >> 10 = 80.
  // At (1.5, 0): (64 + 128) * 512 -> 96.
  CHECK(count_differences(remap(src, f, Interp::kLinear), image_from(1, 5, {64, 96, 48, 80, 96})) == 0);
}

TEST_CASE("augment warp: bilinear rotation by 90 degrees is exact on a square image") {
  // cv2.getRotationMatrix2D((w/2, h/2), 90, 1) maps source (x, y) to (y, w - x): pixel centres land on
  // pixel centres, so bilinear sampling must return source pixels untouched (row w reflects to w - 2).
  const int64_t n = 9;
  const GrayImage src = random_image(n, n, 11);
  const GrayImage out = warp_affine(src, shift_scale_rotate_matrix({90.0, 1.0, 0.0, 0.0}, n, n), Interp::kLinear);
  int64_t wrong = 0;
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x) wrong += out.at(y, x) != src.at(x, reflect_101(n - y, n));
  CHECK(wrong == 0);
}

TEST_CASE("augment warp: identity matrix and identity maps return the image unchanged") {
  const GrayImage src = random_image(13, 17, 3);
  RemapField f{13, 17, {}, {}};
  for (int64_t y = 0; y < 13; ++y)
    for (int64_t x = 0; x < 17; ++x) f.map_x.push_back(static_cast<float>(x)), f.map_y.push_back(static_cast<float>(y));
  for (Interp interp : {Interp::kLinear, Interp::kNearest}) {
    CHECK(count_differences(warp_affine(src, Affine{}, interp), src) == 0);
    CHECK(count_differences(remap(src, f, interp), src) == 0);
  }
}

TEST_CASE("augment warp: invert_affine gives the inverse, and a singular matrix gives zeros as in cv2") {
  Affine a;
  a.m = {0.8, -0.3, 5.0, 0.4, 1.1, -2.0};
  const Affine b = invert_affine(a);
  // b(a(p)) = p for p = (3, 7): a(p) = (0.8*3 - 2.1 + 5, 1.2 + 7.7 - 2) = (5.3, 6.9).
  CHECK(b.m[0] * 5.3 + b.m[1] * 6.9 + b.m[2] == doctest::Approx(3.0).epsilon(1e-12));
  CHECK(b.m[3] * 5.3 + b.m[4] * 6.9 + b.m[5] == doctest::Approx(7.0).epsilon(1e-12));
  Affine s;
  s.m = {1, 2, 3, 2, 4, 5};
  const Affine z = invert_affine(s);
  for (double v : z.m) CHECK(v == 0.0);
}

TEST_CASE("augment warp: bad inputs name the operation") {
  GrayImage empty;
  expect_error([&] { warp_affine(empty, Affine{}, Interp::kLinear); }, {"[warp_affine]", "empty"});
  const GrayImage src = random_image(4, 4, 1);
  RemapField f{2, 2, {0.0f}, {0.0f}};
  expect_error([&] { remap(src, f, Interp::kLinear); }, {"[remap]", "2x2", "expected 4"});
}
