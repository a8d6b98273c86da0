// Tests of data/resize.h, the one cv2.resize of every stage (prepare_data, augmentations, infer, eval).
// Expected arrays come from OpenCV 4.10 (opencv-python-headless, run once by hand: cv2.resize(a, (W, H),
// interpolation=...)) or are worked by hand below; the implementation was also compared with cv2 on random
// images of 12 shape pairs (1024->256/384/512, 256->1024, 100x37->333x91, 1-pixel-wide images, ...) with no
// differing pixel. Byte-for-byte goldens on odd shapes: tests/data/augment/test_golden.cpp.
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "data/resize.h"

using namespace pleura;
using namespace pleura::data;
using namespace pleura::testing;

namespace {

// a[y][x] = (37 * (7y + x) + 11) mod 256, 5 rows x 7 columns.
GrayImage input_5x7() {
  GrayImage a(5, 7);
  for (int64_t i = 0; i < 35; ++i) a.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>((i * 37 + 11) % 256);
  return a;
}

GrayImage image_of(int64_t height, int64_t width, const std::vector<uint8_t>& values) {
  GrayImage image(height, width);
  image.pixels = values;
  return image;
}

bool is_binary(const GrayImage& mask) {
  for (uint8_t v : mask.pixels)
    if (v != 0 && v != 255) return false;
  return true;
}

}  // namespace

TEST_CASE("resize: bilinear matches cv2.resize INTER_LINEAR (down and up)") {
  const GrayImage a = input_5x7();
  CHECK(resize_bilinear(a, 3, 4).pixels ==
        std::vector<uint8_t>{26, 90, 155, 220, 31, 96, 160, 225, 36, 100, 165, 230});
  CHECK(resize_bilinear(a, 8, 11).pixels ==
        std::vector<uint8_t>{11,  28,  51,  75,  98,  122, 146, 169, 193, 216, 233, 12,  29,  53,  76,  100,
                             123, 147, 170, 194, 217, 234, 14,  31,  54,  78,  102, 125, 149, 172, 196, 219,
                             236, 16,  33,  56,  80,  103, 127, 150, 174, 198, 221, 238, 18,  35,  58,  82,
                             105, 129, 152, 176, 200, 223, 240, 20,  37,  60,  84,  107, 131, 154, 178, 201,
                             225, 242, 22,  38,  62,  85,  109, 133, 156, 180, 203, 227, 244, 23,  40,  63,
                             87,  110, 134, 158, 181, 205, 228, 245});
}

TEST_CASE("resize: 2x2 to 4x4 bilinear equals cv2 INTER_LINEAR, worked by hand") {
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
  const GrayImage src = image_of(2, 2, {0, 100, 200, 255});
  CHECK(resize_bilinear(src, 4, 4).pixels == std::vector<uint8_t>{0,   25,  75,  100,  //
                                                                  50,  72,  117, 139,  //
                                                                  150, 167, 200, 216,  //
                                                                  200, 214, 241, 255});
  // Nearest: source index floor(d * 0.5) = 0, 0, 1, 1.
  CHECK(resize_nearest(src, 4, 4).pixels ==
        std::vector<uint8_t>{0, 0, 100, 100, 0, 0, 100, 100, 200, 200, 255, 255, 200, 200, 255, 255});
}

TEST_CASE("resize: nearest matches cv2.resize INTER_NEAREST") {
  const GrayImage a = input_5x7();
  CHECK(resize_nearest(a, 3, 4).pixels == std::vector<uint8_t>{11, 48, 122, 196, 14, 51, 125, 199, 20, 57, 131, 205});
  GrayImage up = resize_nearest(a, 8, 11);
  // Row y takes source row floor(y * 5/8), column x source column floor(x * 7/11).
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 11; ++x) CHECK(up.at(y, x) == a.at(y * 5 / 8, x * 7 / 11));
  }
}

TEST_CASE("resize: worked properties (identity, exact halving averages 2x2 blocks, constant stays constant)") {
  const GrayImage img = random_gray(16, 12, 3);
  CHECK(resize_bilinear(img, 16, 12).pixels == img.pixels);
  // Halving: source x = 2d + 0.5, weights 1024/1024 on both axes, so the bilinear formula gives the
  // rounded mean (a + b + c + d + 2) >> 2 of each 2x2 block, which is also cv2's INTER_AREA switch.
  GrayImage half = resize_bilinear(img, 8, 6);
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 6; ++x) {
      const int sum = img.at(2 * y, 2 * x) + img.at(2 * y, 2 * x + 1) + img.at(2 * y + 1, 2 * x) + img.at(2 * y + 1, 2 * x + 1);
      CHECK(half.at(y, x) == (sum + 2) >> 2);
    }
  }
  // Rounding half up, by hand: (10 + 11 + 12 + 13 + 2) >> 2 = 12; (0 + 0 + 1 + 1 + 2) >> 2 = 1;
  // (255 * 3 + 254 + 2) >> 2 = 255.
  const GrayImage src = image_of(2, 6, {10, 11, 0, 0, 255, 255,  //
                                        12, 13, 1, 1, 255, 254});
  CHECK(resize_bilinear(src, 1, 3).pixels == std::vector<uint8_t>{12, 1, 255});
  for (uint8_t v : resize_bilinear(GrayImage(9, 7, 201), 20, 3).pixels) CHECK(v == 201);
}

TEST_CASE("resize: nearest keeps masks binary; same size is a copy") {
  const GrayImage mask = random_mask(37, 29, 6);
  REQUIRE(is_binary(mask));
  for (auto [h, w] : {std::pair<int64_t, int64_t>{64, 64}, {16, 16}, {100, 7}}) {
    CAPTURE(h);
    CAPTURE(w);
    CHECK(is_binary(resize_nearest(mask, h, w)));
  }
  const GrayImage src = random_gray(9, 7, 5);
  CHECK(resize_bilinear(src, 9, 7).pixels == src.pixels);
  CHECK(resize_nearest(src, 9, 7).pixels == src.pixels);
}

TEST_CASE("resize: bad sizes are refused") {
  expect_error([] { resize_bilinear(GrayImage(4, 4, 1), 0, 3); }, {"[resize_bilinear]", "output size 0x3"});
  expect_error([] { resize_nearest(GrayImage(4, 4, 1), 4, -1); }, {"[resize_nearest]", "output size 4x-1"});
  expect_error([] { resize_nearest(GrayImage(), 3, 3); }, {"[resize_nearest]", "bad source image 0x0", "empty"});
  expect_error([] { resize_bilinear(GrayImage{}, 4, 4); }, {"[resize_bilinear]", "bad source image"});
  GrayImage short_of_pixels(3, 3, 0);
  short_of_pixels.pixels.pop_back();
  expect_error([&] { resize_bilinear(short_of_pixels, 4, 4); }, {"[resize_bilinear]", "3x3 holding 8 bytes"});
}
