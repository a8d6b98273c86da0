// Helpers for the augmentation tests: golden .npy files as images, random images, comparisons, and the
// checks every geometric transform must pass (binary masks, image and mask moving together).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/testing.h"
#include "data/augment/warp.h"
#include "data/image.h"

namespace pleura::augment::testing {

using ::pleura::testing::expect_error;

// tests/fixtures/augment/<name>.npy
std::string golden_path(const std::string& name);
// A uint8 2-D golden array as an image.
GrayImage golden_image(const std::string& name);
// A 2-D float32 or float64 golden array, as doubles (row-major).
std::vector<double> golden_values(const std::string& name);

GrayImage random_image(int64_t height, int64_t width, uint64_t seed);
// A 0/255 mask with random rectangles.
GrayImage random_mask(int64_t height, int64_t width, uint64_t seed);
GrayImage image_from(int64_t height, int64_t width, const std::vector<int>& values);

// Number of pixels that differ (sizes must match, else a failed CHECK and -1).
int64_t count_differences(const GrayImage& a, const GrayImage& b);
bool is_binary_mask(const GrayImage& mask);

// Image and mask made from the same binary picture and moved by the same transform (image bilinear,
// mask nearest) must agree: where the mask is 255 the image is at least `min_on` (after one resampling
// the nearest source pixel carries at least about a fifth of the bilinear weight, so 50; after chained
// resamplings only > 0 is guaranteed), where the image is 255 the mask is 255, and where the image is
// 0 the mask is 0. Returns the number of pixels breaking this.
int64_t count_disagreements(const GrayImage& image, const GrayImage& mask, int min_on = 50);

}  // namespace pleura::augment::testing
