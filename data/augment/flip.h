// Horizontal flip of an 8-bit image (albumentations HorizontalFlip: img[:, ::-1]).
// Test: tests/data/augment/test_flip.cpp.
#pragma once

#include "data/image.h"

namespace pleura::augment {

// Mirrors every row in place: pixel x goes to width-1-x.
void hflip(GrayImage& image);

}  // namespace pleura::augment
