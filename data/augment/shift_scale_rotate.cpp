// ShiftScaleRotate parameters and matrix (header shift_scale_rotate.h).
#include "data/augment/shift_scale_rotate.h"

#include <cmath>

namespace pleura::augment {

ShiftScaleRotateParams draw_shift_scale_rotate(const ShiftScaleRotateConfig& c, Rng& rng) {
  ShiftScaleRotateParams p;
  p.angle_deg = rng.uniform(-c.rotate_limit, c.rotate_limit);
  p.scale = rng.uniform(1.0 - c.scale_limit, 1.0 + c.scale_limit);
  p.dx = rng.uniform(-c.shift_limit, c.shift_limit);
  p.dy = rng.uniform(-c.shift_limit, c.shift_limit);
  return p;
}

Affine shift_scale_rotate_matrix(const ShiftScaleRotateParams& p, int64_t height, int64_t width) {
  // OpenCV: angle *= CV_PI/180; alpha = cos(angle)*scale; beta = sin(angle)*scale; the centre is a
  // Point2f (exact here: half an integer).
  const double angle = p.angle_deg * (M_PI / 180.0);
  const double alpha = std::cos(angle) * p.scale;
  const double beta = std::sin(angle) * p.scale;
  const double cx = static_cast<double>(static_cast<float>(static_cast<double>(width) / 2.0));
  const double cy = static_cast<double>(static_cast<float>(static_cast<double>(height) / 2.0));
  Affine a;
  a.m = {alpha, beta, (1.0 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1.0 - alpha) * cy};
  a.m[2] += p.dx * static_cast<double>(width);
  a.m[5] += p.dy * static_cast<double>(height);
  return a;
}

}  // namespace pleura::augment
