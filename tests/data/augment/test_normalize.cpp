// Normalisation to float tensors: unit and imagenet values by hand, three equal-input channels, masks
// divided by 255 with soft values kept, names parsed.
#include "data/augment/normalize.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment normalize: unit gives x/255 in three equal channels [3,H,W]") {
  const GrayImage g = image_from(1, 3, {0, 51, 255});
  const Tensor t = image_to_tensor(g, Normalization::kUnit);
  CHECK(t.shape() == Shape{3, 1, 3});
  const std::vector<double> v = t.to_vector();
  for (int c = 0; c < 3; ++c) {
    CHECK(v[c * 3 + 0] == 0.0);
    CHECK(v[c * 3 + 1] == doctest::Approx(0.2).epsilon(1e-7));  // 51/255
    CHECK(v[c * 3 + 2] == doctest::Approx(1.0).epsilon(1e-7));
  }
}

TEST_CASE("augment normalize: imagenet uses a different mean and std per channel") {
  const GrayImage g = image_from(1, 1, {128});
  const std::vector<double> v = image_to_tensor(g, Normalization::kImagenet).to_vector();
  const double x = 128.0 / 255.0;
  CHECK(v[0] == doctest::Approx((x - 0.485) / 0.229).epsilon(1e-6));
  CHECK(v[1] == doctest::Approx((x - 0.456) / 0.224).epsilon(1e-6));
  CHECK(v[2] == doctest::Approx((x - 0.406) / 0.225).epsilon(1e-6));
}

TEST_CASE("augment normalize: masks become [1,H,W] = mask/255, soft values kept") {
  const GrayImage m = image_from(2, 2, {0, 255, 128, 255});
  const Tensor t = mask_to_tensor(m);
  CHECK(t.shape() == Shape{1, 2, 2});
  const std::vector<double> v = t.to_vector();
  CHECK(v[0] == 0.0);
  CHECK(v[1] == doctest::Approx(1.0).epsilon(1e-7));
  CHECK(v[2] == doctest::Approx(128.0 / 255.0).epsilon(1e-7));
}

TEST_CASE("augment normalize: names parse, and unknown names and bad images are refused") {
  CHECK(parse_normalization("unit") == Normalization::kUnit);
  CHECK(parse_normalization("imagenet") == Normalization::kImagenet);
  CHECK(std::string(normalization_name(Normalization::kImagenet)) == "imagenet");
  expect_error([] { parse_normalization("zscore"); }, {"[normalize]", "zscore", "unit", "imagenet"});
  expect_error([] { image_to_tensor(GrayImage{}, Normalization::kUnit); }, {"[normalize]", "bad image"});
}
