// The whole chain: config defaults and validation, determinism from the Rng, how often each transform
// fires, output size, binary masks and image/mask agreement through every path.
#include <cmath>

#include "data/augment/pipeline.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment pipeline: defaults are the solution's settings") {
  const AugmentConfig c;
  CHECK(c.hflip.p == 0.5);
  CHECK(c.intensity.p == 0.3);
  CHECK(c.intensity.contrast.limit == 0.2);
  CHECK(c.intensity.gamma.gamma_min == 80);
  CHECK(c.intensity.gamma.gamma_max == 120);
  CHECK(c.intensity.brightness.limit == 0.2);
  CHECK(c.distortion.p == 0.3);
  CHECK(c.distortion.elastic.alpha == 120.0);
  CHECK(c.distortion.elastic.sigma == doctest::Approx(120 * 0.05));
  CHECK(c.distortion.elastic.alpha_affine == doctest::Approx(120 * 0.03));
  CHECK(c.distortion.grid.num_steps == 5);
  CHECK(c.distortion.grid.distort_limit == 0.3);
  CHECK(c.distortion.optical.distort_limit == 2.0);
  CHECK(c.distortion.optical.shift_limit == 0.5);
  CHECK(c.shift_scale_rotate.p == 0.5);
  CHECK(c.shift_scale_rotate.shift_limit == 0.0625);
  CHECK(c.shift_scale_rotate.scale_limit == 0.1);
  CHECK(c.shift_scale_rotate.rotate_limit == 45.0);
  validate(c);
}

TEST_CASE("augment pipeline: validation names the field and the value") {
  AugmentConfig c;
  c.distortion.grid.num_steps = 0;
  expect_error([&] { validate(c); }, {"[augment]", "distortion.grid.num_steps", "0"});
  c = AugmentConfig{};
  c.hflip.p = 1.5;
  expect_error([&] { validate(c); }, {"hflip.p", "1.5", "probability"});
  c = AugmentConfig{};
  c.intensity.contrast.weight = c.intensity.gamma.weight = c.intensity.brightness.weight = 0.0;
  expect_error([&] { validate(c); }, {"intensity.p", "every member weight is 0"});
  c = AugmentConfig{};
  c.size = 0;
  expect_error([&] { validate(c); }, {"size", "0"});
}

TEST_CASE("augment pipeline: the same Rng seed gives the same result, another seed another") {
  AugmentConfig c;
  c.size = 32;
  const GrayImage img = random_image(40, 40, 1), mask = random_mask(40, 40, 2);
  auto run = [&](uint64_t seed) {
    GrayImage i = img, m = mask;
    Rng rng(seed);
    for (int k = 0; k < 3; ++k) augment_pair(i, m, c, rng);
    return std::pair{i, m};
  };
  const auto a = run(7), b = run(7), d = run(8);
  CHECK(count_differences(a.first, b.first) == 0);
  CHECK(count_differences(a.second, b.second) == 0);
  CHECK(count_differences(a.first, d.first) > 0);
}

TEST_CASE("augment pipeline: each transform fires about as often as configured") {
  AugmentConfig c;
  c.size = 16;
  const int n = 3000;
  int flips = 0, intensity = 0, distortion = 0, ssr = 0, members[2][4] = {};
  Rng rng(99);
  for (int k = 0; k < n; ++k) {
    GrayImage i = random_image(16, 16, static_cast<uint64_t>(k)), m = random_mask(16, 16, static_cast<uint64_t>(k));
    const AugmentTrace t = augment_pair(i, m, c, rng);
    flips += t.hflip, ssr += t.shift_scale_rotate;
    intensity += t.intensity != IntensityKind::kNone;
    distortion += t.distortion != DistortionKind::kNone;
    ++members[0][static_cast<int>(t.intensity)];
    ++members[1][static_cast<int>(t.distortion)];
    CHECK_FALSE(t.resized);
  }
  // Binomial standard deviations at n = 3000: 0.009 for p = 0.5, 0.008 for p = 0.3; allow 4.5 sigma.
  CHECK(std::fabs(flips / double(n) - 0.5) < 0.041);
  CHECK(std::fabs(ssr / double(n) - 0.5) < 0.041);
  CHECK(std::fabs(intensity / double(n) - 0.3) < 0.038);
  CHECK(std::fabs(distortion / double(n) - 0.3) < 0.038);
  // Members are equally likely: each about 0.1 of all samples (sd 0.0055).
  for (int g = 0; g < 2; ++g)
    for (int k = 1; k < 4; ++k) CHECK(std::fabs(members[g][k] / double(n) - 0.1) < 0.025);
}

TEST_CASE("augment pipeline: every path keeps masks binary, resizes, and moves image and mask together") {
  // Force each member of each OneOf in turn, with flip and shift-scale-rotate always on.
  for (int member = 0; member < 3; ++member) {
    AugmentConfig c;
    c.size = 48;
    c.hflip.p = 1.0;
    c.shift_scale_rotate.p = 1.0;
    c.distortion.p = 1.0;
    c.distortion.elastic.weight = member == 0;
    c.distortion.grid.weight = member == 1;
    c.distortion.optical.weight = member == 2;
    c.intensity.p = 0.0;  // image and mask start as the same picture, so no intensity change here
    validate(c);
    Rng rng(500 + member);
    for (int trial = 0; trial < 4; ++trial) {
      GrayImage mask = random_mask(64, 56, 600 + 10 * member + trial), image = mask;
      const AugmentTrace t = augment_pair(image, mask, c, rng);
      INFO(describe(t));
      CHECK(static_cast<int>(t.distortion) == member + 1);
      CHECK(t.resized);
      CHECK(image.height == 48);
      CHECK(mask.width == 48);
      CHECK(is_binary_mask(mask));
      CHECK(count_disagreements(image, mask, 1) == 0);  // chained resamplings: on means > 0
    }
  }
}

TEST_CASE("augment pipeline: intensity changes the image only; resize_only only resizes") {
  AugmentConfig c = resize_only(20);
  c.intensity.p = 1.0;
  const GrayImage image0 = random_image(20, 20, 3), mask0 = random_mask(20, 20, 4);
  GrayImage image = image0, mask = mask0;
  Rng rng(1);
  const AugmentTrace t = augment_pair(image, mask, c, rng);
  CHECK(t.intensity != IntensityKind::kNone);
  CHECK(count_differences(mask, mask0) == 0);
  GrayImage i2 = image0, m2 = mask0;
  const AugmentTrace t2 = augment_pair(i2, m2, resize_only(10), rng);
  CHECK(describe(t2) == "hflip=0 intensity=none distortion=none shift_scale_rotate=0 resized=1");
  CHECK(i2.height == 10);
}

TEST_CASE("augment pipeline: image and mask of different sizes are refused") {
  GrayImage image(10, 10, 1), mask(10, 9, 0);
  Rng rng(1);
  expect_error([&] { augment_pair(image, mask, AugmentConfig{}, rng); }, {"[augment]", "10x10", "10x9"});
}
