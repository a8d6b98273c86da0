// cv2.resize on 8-bit images: INTER_LINEAR (images) and INTER_NEAREST (masks), bit-exact with OpenCV's
// uint8 paths (see resize.cpp). Test: tests/data/augment/test_resize.cpp.
#pragma once

#include <cstddef>  // before data/image.h, which uses size_t without including it
#include <cstdint>

#include "data/augment/warp.h"
#include "data/image.h"

namespace pleura::augment {

// cv2.resize(src, (width, height), interpolation=interp). Same size returns a copy, as cv2 does.
GrayImage resize(const GrayImage& src, int64_t height, int64_t width, Interp interp);

}  // namespace pleura::augment
