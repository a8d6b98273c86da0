// Resizing 8-bit grey images the way OpenCV's cv2.resize does, bit for bit, for every stage that resizes:
// prepare_data's caches, the augmentation pipeline (data/augment/pipeline.cpp), infer/'s inputs and
// eval/'s submission masks and truth. Tests: tests/data/test_resize.cpp (hand-worked cases) and
// tests/data/augment/test_golden.cpp (cv2 4.10 outputs on odd shapes).
#pragma once

#include <cstddef>  // data/image.h uses size_t without including <cstddef>
#include <cstdint>

#include "data/image.h"

namespace pleura::data {

// cv2.resize(src, (out_w, out_h), interpolation=cv2.INTER_LINEAR) on uint8: half-pixel centres (source
// x = (dx + 0.5) * scale - 0.5, computed in float as OpenCV does, scale = 1/(out/in)), edge pixels
// replicated, weights rounded to 11-bit integers, a horizontal pass in integers and OpenCV's vertical
// fixed-point formula ((b0*(h0>>4))>>16) + ((b1*(h1>>4))>>16) + 2) >> 2. No antialiasing when shrinking
// (like OpenCV: 1024 -> 256 samples 2 of every 4 source pixels per axis). An exact halving of both sides
// is OpenCV's INTER_AREA shortcut, (a + b + c + d + 2) >> 2 per 2x2 block, which the formula gives too.
// The same size returns a copy, as cv2 does.
GrayImage resize_bilinear(const GrayImage& src, int64_t out_h, int64_t out_w);

// cv2.resize(..., interpolation=cv2.INTER_NEAREST): source index = min(floor(d * (1/(out/in))), in-1)
// (top-left aligned, no half-pixel offset, as OpenCV and albumentations' mask resize do); masks stay binary.
GrayImage resize_nearest(const GrayImage& src, int64_t out_h, int64_t out_w);

}  // namespace pleura::data
