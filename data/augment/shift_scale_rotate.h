// ShiftScaleRotate (albumentations 0.3): a rotation and scaling about the image centre plus a shift,
// applied with cv2.warpAffine (bilinear image, nearest mask, reflect-101). Test:
// tests/data/augment/test_shift_scale_rotate.cpp.
#pragma once

#include <cstdint>

#include "engine/random.h"
#include "data/augment/config.h"
#include "data/augment/warp.h"

namespace pleura::augment {

struct ShiftScaleRotateParams {
  double angle_deg = 0.0;  // counter-clockwise on screen (cv2.getRotationMatrix2D convention)
  double scale = 1.0;
  double dx = 0.0;         // shift as a fraction of the width
  double dy = 0.0;         // shift as a fraction of the height
};

// Draws angle, scale, dx, dy in that order (albumentations' get_params order).
ShiftScaleRotateParams draw_shift_scale_rotate(const ShiftScaleRotateConfig& config, Rng& rng);

// cv2.getRotationMatrix2D((width/2, height/2), angle, scale) with dx*width, dy*height added to the
// translation column: the forward matrix that cv2.warpAffine receives.
Affine shift_scale_rotate_matrix(const ShiftScaleRotateParams& params, int64_t height, int64_t width);

}  // namespace pleura::augment
