// Tests of data/resize.h. Expected arrays come from OpenCV 4.10 (opencv-python-headless, run once
// by hand: cv2.resize(a, (W, H), interpolation=...)) on the input below; the implementation was also
// compared with cv2 on random images of 12 shape pairs (1024->256/384/512, 256->1024, 100x37->333x91,
// 1-pixel-wide images, ...) with no differing pixel.
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
  // Halving: source x = 2d + 0.5, weights 1024/1024 on both axes, so the result is the rounded mean
  // (a + b + c + d + 2) >> 2 of each 2x2 block.
  GrayImage half = resize_bilinear(img, 8, 6);
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 6; ++x) {
      const int sum = img.at(2 * y, 2 * x) + img.at(2 * y, 2 * x + 1) + img.at(2 * y + 1, 2 * x) + img.at(2 * y + 1, 2 * x + 1);
      CHECK(half.at(y, x) == (sum + 2) >> 2);
    }
  }
  for (uint8_t v : resize_bilinear(GrayImage(9, 7, 201), 20, 3).pixels) CHECK(v == 201);
}

TEST_CASE("resize: bad sizes are refused") {
  expect_error([] { resize_bilinear(GrayImage(4, 4, 1), 0, 3); }, {"[resize_bilinear]", "0x3"});
  expect_error([] { resize_nearest(GrayImage(), 3, 3); }, {"[resize_nearest]", "empty"});
}
