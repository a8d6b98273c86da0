// Helpers of the augmentation tests (augment_testing.h).
#include "tests/data/augment/augment_testing.h"

#include <algorithm>

#include "engine/npy.h"
#include "engine/random.h"

namespace pleura::augment::testing {

std::string golden_path(const std::string& name) { return std::string(PLEURA_FIXTURES_DIR) + "/augment/" + name + ".npy"; }

GrayImage golden_image(const std::string& name) {
  Tensor t = read_npy(golden_path(name));
  REQUIRE(t.dtype() == DType::kUInt8);
  REQUIRE(t.ndim() == 2);
  GrayImage g(t.size(0), t.size(1));
  const uint8_t* p = t.data<uint8_t>();
  g.pixels.assign(p, p + t.numel());
  return g;
}

std::vector<double> golden_values(const std::string& name) { return read_npy(golden_path(name)).to_vector(); }

GrayImage random_image(int64_t height, int64_t width, uint64_t seed) {
  Rng rng(seed);
  GrayImage g(height, width);
  for (uint8_t& p : g.pixels) p = static_cast<uint8_t>(rng.below(256));
  return g;
}

GrayImage random_mask(int64_t height, int64_t width, uint64_t seed) {
  Rng rng(seed);
  GrayImage g(height, width, 0);
  for (int r = 0; r < 3; ++r) {
    const int64_t y0 = static_cast<int64_t>(rng.below(static_cast<uint64_t>(height)));
    const int64_t x0 = static_cast<int64_t>(rng.below(static_cast<uint64_t>(width)));
    const int64_t y1 = std::min(height, y0 + 2 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(height / 3 + 1))));
    const int64_t x1 = std::min(width, x0 + 2 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(width / 3 + 1))));
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) g.at(y, x) = 255;
  }
  return g;
}

GrayImage image_from(int64_t height, int64_t width, const std::vector<int>& values) {
  REQUIRE(static_cast<int64_t>(values.size()) == height * width);
  GrayImage g(height, width);
  for (size_t i = 0; i < values.size(); ++i) g.pixels[i] = static_cast<uint8_t>(values[i]);
  return g;
}

int64_t count_differences(const GrayImage& a, const GrayImage& b) {
  CHECK(a.height == b.height);
  CHECK(a.width == b.width);
  if (a.height != b.height || a.width != b.width || a.pixels.size() != b.pixels.size()) return -1;
  int64_t n = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) n += a.pixels[i] != b.pixels[i];
  return n;
}

bool is_binary_mask(const GrayImage& mask) {
  for (uint8_t p : mask.pixels)
    if (p != 0 && p != 255) return false;
  return true;
}

int64_t count_disagreements(const GrayImage& image, const GrayImage& mask, int min_on) {
  REQUIRE(image.pixels.size() == mask.pixels.size());
  int64_t bad = 0;
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    const int v = image.pixels[i], m = mask.pixels[i];
    if ((m == 255 && v < min_on) || (v == 255 && m != 255) || (v == 0 && m != 0)) ++bad;
  }
  return bad;
}

}  // namespace pleura::augment::testing
