// Contrast, brightness, gamma: worked values, zero-strength identities, truncation, and the image mean.
// (Tables against albumentations' own NumPy code: test_golden.cpp.)
#include "data/augment/intensity.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment intensity: zero strength is the identity (contrast 0, brightness 0, gamma 100)") {
  const GrayImage src = random_image(11, 13, 7);
  GrayImage a = src, b = src, c = src;
  adjust_contrast(a, 1.0);
  adjust_brightness(b, 0.0);
  adjust_gamma(c, 1.0);
  CHECK(count_differences(a, src) == 0);
  CHECK(count_differences(b, src) == 0);
  CHECK(count_differences(c, src) == 0);
}

TEST_CASE("augment intensity: worked table entries truncate and saturate") {
  // Contrast 1.2: 100 * 1.2 = 120; 101 * 1.2 = 121.2 -> 121; 213 * 1.2 = 255.6 -> 255; 250 -> 255.
  const Lut c = contrast_lut(1.2);
  CHECK(c[100] == 120);
  CHECK(c[101] == 121);
  CHECK(c[213] == 255);
  CHECK(c[250] == 255);
  // Brightness beta 0.1 on an image of mean 50: shift 5 -> 7 becomes 12, 252 saturates.
  const Lut b = brightness_lut(0.1, 50.0);
  CHECK(b[7] == 12);
  CHECK(b[252] == 255);
  // Brightness -0.1 with mean 33: shift -3.3 -> 10 becomes 6.7 -> 6 (truncated), 2 -> 0 (clipped).
  const Lut bn = brightness_lut(-0.1, 33.0);
  CHECK(bn[10] == 6);
  CHECK(bn[2] == 0);
  // Gamma 2: (i/255)^(1/2) * 255: 64 -> sqrt(64/255) * 255 = 127.75 -> 127; 0 -> 0; 255 -> 255.
  const Lut g = gamma_lut(2.0);
  CHECK(g[64] == 127);
  CHECK(g[0] == 0);
  CHECK(g[255] == 255);
}

TEST_CASE("augment intensity: brightness scales with the image mean (albumentations 0.3)") {
  GrayImage dark(4, 4, 20), bright(4, 4, 200);
  adjust_brightness(dark, 0.2);    // 20 + 0.2 * 20 = 24
  adjust_brightness(bright, 0.2);  // 200 + 0.2 * 200 = 240
  CHECK(dark.pixels[0] == 24);
  CHECK(bright.pixels[0] == 240);
  CHECK(image_mean(image_from(1, 4, {0, 1, 2, 255})) == doctest::Approx(64.5).epsilon(1e-15));
}

TEST_CASE("augment intensity: a non-positive gamma and an empty image are refused") {
  expect_error([] { gamma_lut(0.0); }, {"[gamma]", "positive"});
  expect_error([] { image_mean(GrayImage{}); }, {"[brightness]", "empty"});
}
