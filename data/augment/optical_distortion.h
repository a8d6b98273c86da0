// OpticalDistortion (albumentations 0.3): barrel / pincushion distortion through
// cv2.initUndistortRectifyMap and cv2.remap. Test: tests/data/augment/test_optical_distortion.cpp.
#pragma once

#include <cstdint>

#include "engine/random.h"
#include "data/augment/config.h"
#include "data/augment/warp.h"

namespace pleura::augment {

struct OpticalDistortionParams {
  double k = 0.0;   // radial coefficient, used as k1 = k2 = k
  double dx = 0.0;  // principal point shift in pixels (an integer: round half to even of the draw)
  double dy = 0.0;
};

// Draws k, dx, dy in that order; dx and dy are rounded half to even as Python's round() does.
OpticalDistortionParams draw_optical_distortion(const OpticalDistortionConfig& config, Rng& rng);

// cv2.initUndistortRectifyMap(K, (k, k, 0, 0, 0), None, None, (width, height), CV_32FC1) with the
// float32 camera matrix K = [[width, 0, width/2 + dx], [0, width, height/2 + dy], [0, 0, 1]]. OpenCV
// takes the new camera matrix's principal point at ((width-1)/2, (height-1)/2), so even k = 0 moves the
// image by half a pixel (a slight blur); the reference does the same.
RemapField optical_distortion_field(int64_t height, int64_t width, const OpticalDistortionParams& params);

}  // namespace pleura::augment
