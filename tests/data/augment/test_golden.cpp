// Every resampling path against the bytes OpenCV 4.10 (and SciPy, NumPy) produce on the same inputs:
// tests/fixtures/augment/*.npy, made by tests/fixtures/augment/make_golden.py. uint8 outputs must match
// exactly; that is the point of reproducing OpenCV's fixed-point arithmetic.
#include <cmath>

#include "data/augment/elastic.h"
#include "data/augment/grid_distortion.h"
#include "data/augment/intensity.h"
#include "data/augment/normalize.h"
#include "data/augment/optical_distortion.h"
#include "data/augment/shift_scale_rotate.h"
#include "data/augment/warp.h"
#include "data/resize.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

namespace {
RemapField golden_field(const std::string& x, const std::string& y, int64_t h, int64_t w) {
  RemapField f{h, w, {}, {}};
  for (double v : golden_values(x)) f.map_x.push_back(static_cast<float>(v));
  for (double v : golden_values(y)) f.map_y.push_back(static_cast<float>(v));
  return f;
}
// Float maps computed two ways (OpenCV's operation order vs ours): they agree to float32 rounding;
// 2e-5 is about 4 ulps at the largest magnitudes here (|value| < 64).
void check_maps_close(const std::vector<float>& ours, const std::vector<double>& ref, const char* what) {
  REQUIRE(ours.size() == ref.size());
  double worst = 0.0;
  for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::fabs(ours[i] - ref[i]));
  INFO(what);
  CHECK(worst <= 2e-5);
}
}  // namespace

TEST_CASE("augment golden: warpAffine of ShiftScaleRotate, bilinear and nearest, equal cv2's bytes") {
  const GrayImage src = golden_image("src");
  const Affine m = shift_scale_rotate_matrix({33.3, 1.07, 0.05, -0.03}, src.height, src.width);
  const std::vector<double> ref = golden_values("ssr_matrix");  // cv2.getRotationMatrix2D + shift
  for (int i = 0; i < 6; ++i) CHECK(m.m[i] == doctest::Approx(ref[i]).epsilon(1e-14));
  CHECK(count_differences(warp_affine(src, m, Interp::kLinear), golden_image("ssr_linear")) == 0);
  CHECK(count_differences(warp_affine(src, m, Interp::kNearest), golden_image("ssr_nearest")) == 0);
}

TEST_CASE("augment golden: remap with float maps reaching outside the image equals cv2's bytes") {
  const GrayImage src = golden_image("src");
  const RemapField f = golden_field("remap_map_x", "remap_map_y", src.height, src.width);
  CHECK(count_differences(remap(src, f, Interp::kLinear), golden_image("remap_linear")) == 0);
  CHECK(count_differences(remap(src, f, Interp::kNearest), golden_image("remap_nearest")) == 0);
}

TEST_CASE("augment golden: resize up, down, mixed and exactly halved equals cv2's bytes") {
  const GrayImage src = golden_image("src");  // 37 x 29
  for (auto [h, w] : {std::pair<int64_t, int64_t>{64, 64}, {17, 40}, {23, 11}}) {
    const std::string stem = "resize_" + std::to_string(h) + "x" + std::to_string(w);
    INFO(stem);
    CHECK(count_differences(data::resize_bilinear(src, h, w), golden_image(stem + "_linear")) == 0);
    CHECK(count_differences(data::resize_nearest(src, h, w), golden_image(stem + "_nearest")) == 0);
  }
  CHECK(count_differences(data::resize_bilinear(golden_image("src40"), 20, 20), golden_image("resize40_20x20_linear")) == 0);
}

TEST_CASE("augment golden: GridDistortion maps and resampling equal albumentations 0.3 + cv2") {
  const GrayImage src = golden_image("src"), mask = golden_image("mask");
  GridDistortionParams p;
  p.num_steps = 5;
  p.steps_x = golden_values("grid_steps_x");
  p.steps_y = golden_values("grid_steps_y");
  const RemapField f = grid_distortion_field(src.height, src.width, p);
  check_maps_close(f.map_x, golden_values("grid_map_x"), "grid map_x");
  check_maps_close(f.map_y, golden_values("grid_map_y"), "grid map_y");
  CHECK(count_differences(remap(src, f, Interp::kLinear), golden_image("grid_linear")) == 0);
  CHECK(count_differences(remap(mask, f, Interp::kNearest), golden_image("grid_nearest")) == 0);
}

TEST_CASE("augment golden: OpticalDistortion maps equal cv2.initUndistortRectifyMap's") {
  const GrayImage src = golden_image("src");
  const RemapField f = optical_distortion_field(src.height, src.width, {1.3, 1.0, -2.0});
  check_maps_close(f.map_x, golden_values("optical_map_x"), "optical map_x");
  check_maps_close(f.map_y, golden_values("optical_map_y"), "optical map_y");
  CHECK(count_differences(remap(src, f, Interp::kLinear), golden_image("optical_linear")) == 0);
}

TEST_CASE("augment golden: ElasticTransform blur equals scipy's gaussian_filter, warp equals cv2's") {
  const GrayImage src = golden_image("src"), mask = golden_image("mask");
  const int64_t h = src.height, w = src.width;
  std::vector<double> field = golden_values("elastic_noise_x");
  gaussian_filter_reflect(field, h, w, 3.0);
  const std::vector<double> blurred = golden_values("elastic_blur_x");
  double worst = 0.0;
  for (size_t i = 0; i < field.size(); ++i) worst = std::max(worst, std::fabs(field[i] - blurred[i]));
  CHECK(worst < 1e-14);  // float64 sums of 25 terms in another order: a few ulps of values below 1

  ElasticParams p;
  p.height = h;
  p.width = w;
  const std::vector<double> off = golden_values("elastic_offsets");
  for (int i = 0; i < 6; ++i) p.anchor_offsets[i] = static_cast<float>(off[i]);
  for (double v : golden_values("elastic_dx")) p.dx.push_back(static_cast<float>(v));
  for (double v : golden_values("elastic_dy")) p.dy.push_back(static_cast<float>(v));
  const Affine a = elastic_affine(h, w, p.anchor_offsets);
  const std::vector<double> ref = golden_values("elastic_affine");  // cv2.getAffineTransform
  for (int i = 0; i < 6; ++i) CHECK(a.m[i] == doctest::Approx(ref[i]).epsilon(1e-12));
  CHECK(count_differences(elastic_transform(src, p, Interp::kLinear), golden_image("elastic_linear")) == 0);
  CHECK(count_differences(elastic_transform(mask, p, Interp::kNearest), golden_image("elastic_nearest")) == 0);
}

TEST_CASE("augment golden: contrast, brightness and gamma tables equal albumentations 0.3's") {
  const GrayImage src = golden_image("src");
  for (double alpha : {1.17, 0.83}) {
    GrayImage g = src;
    adjust_contrast(g, alpha);
    CHECK(count_differences(g, golden_image(alpha > 1 ? "contrast_1.17" : "contrast_0.83")) == 0);
  }
  for (double beta : {0.13, -0.19}) {
    GrayImage g = src;
    adjust_brightness(g, beta);
    CHECK(count_differences(g, golden_image(beta > 0 ? "brightness_0.13" : "brightness_-0.19")) == 0);
  }
  for (const char* gamma : {"0.8", "0.93", "1.2"}) {
    GrayImage g = golden_image("ramp");  // every value 0..255 once
    adjust_gamma(g, std::stod(gamma));
    CHECK(count_differences(g, golden_image(std::string("gamma_") + gamma)) == 0);
  }
}

TEST_CASE("augment golden: imagenet normalisation equals albumentations' Normalize in float32") {
  GrayImage ramp(1, 256);
  for (int i = 0; i < 256; ++i) ramp.pixels[i] = static_cast<uint8_t>(i);
  std::vector<float> out(3 * 256);
  write_image_chw(ramp, Normalization::kImagenet, out.data());
  const std::vector<double> ref = golden_values("normalize_imagenet");  // [3, 256]
  REQUIRE(ref.size() == out.size());
  // The same float32 operations in the same order: within one float32 ulp (in practice identical).
  int64_t mismatches = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const float r = static_cast<float>(ref[i]);
    mismatches += out[i] < std::nextafter(r, -1e30f) || out[i] > std::nextafter(r, 1e30f);
  }
  CHECK(mismatches == 0);
}
