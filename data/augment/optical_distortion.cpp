// OpticalDistortion maps (header optical_distortion.h): OpenCV's undistortion model in double with the
// float32 inputs of the reference, written out to float32. Radial terms only (k3 and the tangential and
// thin-prism terms are 0 in the reference).
#include "data/augment/optical_distortion.h"

#include <cmath>

namespace pleura::augment {

OpticalDistortionParams draw_optical_distortion(const OpticalDistortionConfig& c, Rng& rng) {
  OpticalDistortionParams p;
  p.k = rng.uniform(-c.distort_limit, c.distort_limit);
  p.dx = std::nearbyint(rng.uniform(-c.shift_limit, c.shift_limit));  // ties to even, as Python's round
  p.dy = std::nearbyint(rng.uniform(-c.shift_limit, c.shift_limit));
  return p;
}

RemapField optical_distortion_field(int64_t height, int64_t width, const OpticalDistortionParams& p) {
  // The reference's camera matrix and coefficients are float32.
  const double f = static_cast<float>(width);
  const double u0 = static_cast<float>(static_cast<double>(width) * 0.5 + p.dx);
  const double v0 = static_cast<float>(static_cast<double>(height) * 0.5 + p.dy);
  const double k = static_cast<float>(p.k);
  // getDefaultNewCameraMatrix(K, size, centerPrincipalPoint=true): same focal length, centred.
  const double cx = (static_cast<double>(width) - 1.0) * 0.5;
  const double cy = (static_cast<double>(height) - 1.0) * 0.5;
  const size_t n = static_cast<size_t>(height * width);
  RemapField out{height, width, std::vector<float>(n), std::vector<float>(n)};
  for (int64_t i = 0; i < height; ++i) {
    const double y = (static_cast<double>(i) - cy) / f;
    for (int64_t j = 0; j < width; ++j) {
      const double x = (static_cast<double>(j) - cx) / f;
      const double r2 = x * x + y * y;
      const double kr = 1.0 + (k * r2 + k) * r2;  // 1 + k1 r^2 + k2 r^4, with k3 = 0
      out.map_x[static_cast<size_t>(i * width + j)] = static_cast<float>(f * (x * kr) + u0);
      out.map_y[static_cast<size_t>(i * width + j)] = static_cast<float>(f * (y * kr) + v0);
    }
  }
  return out;
}

}  // namespace pleura::augment
