// cv2-compatible resampling of 8-bit images: warpAffine and remap, bilinear or nearest, with
// BORDER_REFLECT_101. Bit-exact with OpenCV's uint8 paths (see warp.cpp); test: tests/data/augment/test_warp.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "data/image.h"

namespace pleura::augment {

// Images use bilinear interpolation, masks nearest (albumentations replaces the interpolation of every
// geometric transform by cv2.INTER_NEAREST for masks).
enum class Interp { kLinear, kNearest };

// A 2x3 affine matrix [m0 m1 m2; m3 m4 m5] that maps a source point (x, y) to the destination point
// (m0*x + m1*y + m2, m3*x + m4*y + m5): the matrix cv2.warpAffine takes without WARP_INVERSE_MAP.
// Coordinates are pixel indices (pixel centres at integers), x along a row.
struct Affine {
  std::array<double, 6> m{1.0, 0.0, 0.0, 0.0, 1.0, 0.0};
};

// The inverse, computed as cv2.warpAffine does (closed-form 2x2 inverse in double; a singular matrix
// gives zeros, as in OpenCV).
Affine invert_affine(const Affine& a);

// cv2.warpAffine(src, forward, (width, height), flags=interp, borderMode=BORDER_REFLECT_101): output
// pixel (x, y) takes the source at inverse(forward)(x, y). Output size = source size.
GrayImage warp_affine(const GrayImage& src, const Affine& forward, Interp interp);

// Per output pixel (row-major, height x width), the source point to sample (float32, as cv2.remap's
// CV_32FC1 maps).
struct RemapField {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<float> map_x;
  std::vector<float> map_y;
};

// cv2.remap(src, map_x, map_y, interp, borderMode=BORDER_REFLECT_101). Output size = field size.
GrayImage remap(const GrayImage& src, const RemapField& field, Interp interp);

}  // namespace pleura::augment
