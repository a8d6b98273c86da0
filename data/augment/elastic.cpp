// ElasticTransform (header elastic.h). The reference (albumentations 0.3 functional.elastic_transform,
// approximate=False) blurs its noise with scipy.ndimage.gaussian_filter in float64, not with
// cv2.GaussianBlur (that is the approximate=True path, and later versions), so this file does the same.
#include "data/augment/elastic.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "data/augment/border.h"

namespace pleura::augment {

namespace {

std::vector<double> gaussian_weights(double sigma) {
  const int64_t radius = static_cast<int64_t>(4.0 * sigma + 0.5);
  std::vector<double> w(static_cast<size_t>(2 * radius + 1));
  double sum = 0.0;
  for (int64_t i = -radius; i <= radius; ++i) {
    w[static_cast<size_t>(i + radius)] = std::exp(-0.5 / (sigma * sigma) * static_cast<double>(i * i));
    sum += w[static_cast<size_t>(i + radius)];
  }
  for (double& v : w) v /= sum;
  return w;
}

// Solves [x y 1] . (a, b, c) = t for the three points (Cramer's rule in double; OpenCV uses an LU
// solve, which can differ in the last bits).
std::array<double, 3> solve3(const double x[3], const double y[3], const double t[3]) {
  const double det = x[0] * (y[1] - y[2]) - y[0] * (x[1] - x[2]) + (x[1] * y[2] - x[2] * y[1]);
  PLEURA_CHECK(det != 0.0, "[elastic] degenerate anchor points");
  const double a = t[0] * (y[1] - y[2]) - y[0] * (t[1] - t[2]) + (t[1] * y[2] - t[2] * y[1]);
  const double b = x[0] * (t[1] - t[2]) - t[0] * (x[1] - x[2]) + (x[1] * t[2] - x[2] * t[1]);
  const double c = x[0] * (y[1] * t[2] - y[2] * t[1]) - y[0] * (x[1] * t[2] - x[2] * t[1]) +
                   t[0] * (x[1] * y[2] - x[2] * y[1]);
  return {a / det, b / det, c / det};
}

std::vector<float> blurred_noise(int64_t height, int64_t width, double sigma, double alpha, Rng& rng) {
  std::vector<double> field(static_cast<size_t>(height * width));
  for (double& v : field) v = rng.uniform() * 2.0 - 1.0;
  gaussian_filter_reflect(field, height, width, sigma);
  std::vector<float> out(field.size());
  for (size_t i = 0; i < field.size(); ++i) out[i] = static_cast<float>(field[i] * alpha);
  return out;
}

}  // namespace

void gaussian_filter_reflect(std::vector<double>& data, int64_t h, int64_t w, double sigma) {
  PLEURA_CHECK(static_cast<int64_t>(data.size()) == h * w, "[gaussian_filter] data holds ", data.size(),
               " values, expected ", h, "x", w);
  if (!(sigma > 1e-15) || h == 0 || w == 0) return;
  const std::vector<double> k = gaussian_weights(sigma);
  const int64_t r = static_cast<int64_t>(k.size() / 2);
  // Axis 0 (down the columns), a whole row at a time.
  std::vector<double> tmp(data.size(), 0.0);
  for (int64_t y = 0; y < h; ++y) {
    double* out = tmp.data() + y * w;
    for (int64_t j = -r; j <= r; ++j) {
      const double* in = data.data() + reflect_half(y + j, h) * w;
      const double kj = k[static_cast<size_t>(j + r)];
      for (int64_t x = 0; x < w; ++x) out[x] += kj * in[x];
    }
  }
  // Axis 1 (along the rows), through a reflected copy of each row. Tap-major loops (each output still
  // sums its taps in ascending order) so the compiler can vectorise across x.
  std::vector<double> row(static_cast<size_t>(w + 2 * r));
  for (int64_t y = 0; y < h; ++y) {
    const double* in = tmp.data() + y * w;
    for (int64_t i = 0; i < w + 2 * r; ++i) row[static_cast<size_t>(i)] = in[reflect_half(i - r, w)];
    double* out = data.data() + y * w;
    std::fill(out, out + w, 0.0);
    for (int64_t j = 0; j <= 2 * r; ++j) {
      const double kj = k[static_cast<size_t>(j)];
      const double* src = row.data() + j;
      for (int64_t x = 0; x < w; ++x) out[x] += kj * src[x];
    }
  }
}

ElasticParams draw_elastic(const ElasticConfig& c, int64_t height, int64_t width, Rng& rng) {
  ElasticParams p;
  p.height = height;
  p.width = width;
  for (float& v : p.anchor_offsets) v = static_cast<float>(rng.uniform(-c.alpha_affine, c.alpha_affine));
  p.dx = blurred_noise(height, width, c.sigma, c.alpha, rng);
  p.dy = blurred_noise(height, width, c.sigma, c.alpha, rng);
  return p;
}

Affine elastic_affine(int64_t height, int64_t width, const std::array<float, 6>& off) {
  // float32 arithmetic as in the reference (np.float32 points, float32 offsets added).
  const float c0 = static_cast<float>(height / 2), c1 = static_cast<float>(width / 2);
  const float s = static_cast<float>(std::min(height, width) / 3);
  const float src[6] = {c0 + s, c1 + s, c0 + s, c1 - s, c0 - s, c1 - s};
  double x[3], y[3], tx[3], ty[3];
  for (int i = 0; i < 3; ++i) {
    x[i] = src[2 * i];
    y[i] = src[2 * i + 1];
    tx[i] = static_cast<float>(src[2 * i] + off[2 * i]);
    ty[i] = static_cast<float>(src[2 * i + 1] + off[2 * i + 1]);
  }
  const auto r0 = solve3(x, y, tx);
  const auto r1 = solve3(x, y, ty);
  Affine a;
  a.m = {r0[0], r0[1], r0[2], r1[0], r1[1], r1[2]};
  return a;
}

RemapField elastic_field(const ElasticParams& p) {
  const size_t n = static_cast<size_t>(p.height * p.width);
  PLEURA_CHECK(p.dx.size() == n && p.dy.size() == n, "[elastic] displacement fields hold ", p.dx.size(), " and ",
               p.dy.size(), " values, expected ", p.height, "x", p.width);
  RemapField f{p.height, p.width, std::vector<float>(n), std::vector<float>(n)};
  for (int64_t y = 0; y < p.height; ++y) {
    for (int64_t x = 0; x < p.width; ++x) {
      const size_t i = static_cast<size_t>(y * p.width + x);
      // NumPy: int64 grid + float32 field -> float64 sum -> float32.
      f.map_x[i] = static_cast<float>(static_cast<double>(x) + static_cast<double>(p.dx[i]));
      f.map_y[i] = static_cast<float>(static_cast<double>(y) + static_cast<double>(p.dy[i]));
    }
  }
  return f;
}

GrayImage elastic_transform(const GrayImage& src, const ElasticParams& p, Interp interp) {
  PLEURA_CHECK(src.height == p.height && src.width == p.width, "[elastic] image ", src.height, "x", src.width,
               " but parameters drawn for ", p.height, "x", p.width);
  return remap(warp_affine(src, elastic_affine(p.height, p.width, p.anchor_offsets), interp), elastic_field(p), interp);
}

}  // namespace pleura::augment
