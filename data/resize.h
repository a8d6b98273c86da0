// Resizing 8-bit grey images the way OpenCV does, so prepared data matches the reference pipeline's
// cv2.resize calls. Tests: tests/data/test_resize.cpp (hand-worked cases; the implementation was
// also compared with cv2 4.10 on random images, see the test file's comment).
#pragma once

#include <cstddef>  // data/image.h uses size_t without including <cstddef>
#include <cstdint>

#include "data/image.h"

namespace pleura::data {

// cv2.resize(src, (out_w, out_h), interpolation=cv2.INTER_LINEAR) on uint8, bit for bit: half-pixel
// centres (source x = (dx + 0.5) * scale - 0.5, computed in float as OpenCV does, scale = 1/(out/in)),
// edge pixels replicated, weights rounded to 11-bit integers, a horizontal pass in integers and
// OpenCV's vertical fixed-point formula ((b0*(h0>>4))>>16) + ((b1*(h1>>4))>>16) + 2) >> 2. No
// antialiasing when shrinking (like OpenCV: 1024 -> 256 samples 2 of every 4 source pixels per axis).
GrayImage resize_bilinear(const GrayImage& src, int64_t out_h, int64_t out_w);

// cv2.resize(..., interpolation=cv2.INTER_NEAREST): source index = min(floor(d * (1/(out/in))), in-1)
// (top-left aligned, no half-pixel offset, as OpenCV and albumentations' mask resize do).
GrayImage resize_nearest(const GrayImage& src, int64_t out_h, int64_t out_w);

}  // namespace pleura::data
