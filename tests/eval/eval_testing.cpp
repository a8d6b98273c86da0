// Helpers for the submission tests (see eval_testing.h).
#include "tests/eval/eval_testing.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/error.h"
#include "engine/npy.h"
#include "engine/random.h"

namespace pleura::testing {

Tensor map_tensor(int64_t height, int64_t width, const std::vector<float>& values) {
  PLEURA_CHECK(static_cast<int64_t>(values.size()) == height * width, "map_tensor: ", values.size(), " values for ",
               height, "x", width);
  Tensor t = Tensor::empty({height, width}, DType::kFloat32);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

void write_npy_map(const std::string& path, int64_t height, int64_t width, const std::vector<float>& values) {
  write_npy(path, map_tensor(height, width, values));
}

Tensor smooth_random_map(int64_t height, int64_t width, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> field(static_cast<size_t>(height * width), 0.0);
  const int bumps = 1 + static_cast<int>(rng.uniform(0, 3));
  for (int b = 0; b < bumps; ++b) {
    const double cy = rng.uniform(0, static_cast<double>(height)), cx = rng.uniform(0, static_cast<double>(width));
    const double s = rng.uniform(0.05, 0.25) * static_cast<double>(std::min(height, width)) + 1.0;
    const double amp = rng.uniform(0.3, 1.0);
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        const double d2 = (static_cast<double>(y) - cy) * (static_cast<double>(y) - cy) +
                          (static_cast<double>(x) - cx) * (static_cast<double>(x) - cx);
        field[static_cast<size_t>(y * width + x)] += amp * std::exp(-d2 / (2 * s * s));
      }
    }
  }
  std::vector<float> values(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    values[i] = static_cast<float>(std::clamp(field[i] + rng.uniform(-0.05, 0.05), 0.0, 1.0));
  }
  return map_tensor(height, width, values);
}

GrayImage binary_map_png(const Tensor& map) {
  GrayImage image(map.size(0), map.size(1), 0);
  const float* p = map.data<float>();
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    PLEURA_CHECK(p[i] == 0.0f || p[i] == 1.0f, "binary_map_png: value ", p[i], " is neither 0 nor 1");
    image.pixels[i] = p[i] == 1.0f ? 255 : 0;
  }
  return image;
}

std::string last_line(const std::string& text) {
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;
  const size_t start = text.rfind('\n', end == 0 ? 0 : end - 1);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1));
}

}  // namespace pleura::testing
