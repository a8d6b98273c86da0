// cv2.resize semantics worked by hand (bit-exactness against OpenCV itself: test_golden.cpp).
#include "data/augment/resize.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment resize: 2x2 to 4x4 bilinear equals cv2 INTER_LINEAR, worked by hand") {
  // Source [[0, 100], [200, 255]]. Scale 0.5: output column d samples f = (d + 0.5) * 0.5 - 0.5 =
  // -0.25, 0.25, 0.75, 1.25. Columns clamp (f < 0 -> s = 0, weight 0; s >= 1 -> s = 1), so the
  // horizontal weights in 1/2048 are (2048, 0), (1536, 512), (512, 1536), (2048 on column 1). Rows keep
  // their weights but clamp indices: row 0 = rows (0, 0) with (512, 1536), row 1 = (0, 1) with
  // (1536, 512), row 2 = (0, 1) with (512, 1536), row 3 = rows (1, 1).
  // Horizontal sums, row 0: 0, 51200, 153600, 204800; row 1: 409600, 437760, 494080, 522240.
  // Vertical step v = ((S0 >> 4) * b0 >> 16) + ((S1 >> 4) * b1 >> 16), out = (v + 2) >> 2:
  //   (1, 1): (3200 * 1536 >> 16) + (27360 * 512 >> 16) = 75 + 213 = 288 -> 72
  //   (2, 2): (9600 * 512 >> 16) + (30880 * 1536 >> 16) = 75 + 723 = 798 -> 200
  //   (0, 1): (3200 * 512 >> 16) + (3200 * 1536 >> 16) = 25 + 75 = 100 -> 25
  //   (3, 1): (27360 * 512 >> 16) + (27360 * 1536 >> 16) = 213 + 641 = 854 -> 214
  // (cv2 4.10 prints the same 16 values.)
  const GrayImage src = image_from(2, 2, {0, 100, 200, 255});
  const GrayImage want = image_from(4, 4, {0, 25, 75, 100,  //
                                           50, 72, 117, 139,  //
                                           150, 167, 200, 216,  //
                                           200, 214, 241, 255});
  CHECK(count_differences(resize(src, 4, 4, Interp::kLinear), want) == 0);
  // Nearest: source index floor(d * 0.5) = 0, 0, 1, 1.
  const GrayImage want_nn = image_from(4, 4, {0, 0, 100, 100, 0, 0, 100, 100, 200, 200, 255, 255, 200, 200, 255, 255});
  CHECK(count_differences(resize(src, 4, 4, Interp::kNearest), want_nn) == 0);
}

TEST_CASE("augment resize: exact halving averages 2x2 blocks, rounding half up (cv2's INTER_AREA switch)") {
  // (10 + 11 + 12 + 13 + 2) >> 2 = 12; (0 + 0 + 1 + 1 + 2) >> 2 = 1; (255 * 3 + 254 + 2) >> 2 = 255.
  const GrayImage src = image_from(2, 6, {10, 11, 0, 0, 255, 255,  //
                                          12, 13, 1, 1, 255, 254});
  CHECK(count_differences(resize(src, 1, 3, Interp::kLinear), image_from(1, 3, {12, 1, 255})) == 0);
}

TEST_CASE("augment resize: same size is a copy; nearest keeps masks binary; bad sizes are refused") {
  const GrayImage src = random_image(9, 7, 5);
  CHECK(count_differences(resize(src, 9, 7, Interp::kLinear), src) == 0);
  const GrayImage mask = random_mask(37, 29, 6);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{64, 64}, {16, 16}, {100, 7}}) {
    CHECK(is_binary_mask(resize(mask, h, w, Interp::kNearest)));
  }
  expect_error([&] { resize(src, 0, 4, Interp::kLinear); }, {"[resize]", "0x4"});
  expect_error([&] { resize(GrayImage{}, 4, 4, Interp::kLinear); }, {"[resize]", "bad source"});
}
