// Horizontal flip (header flip.h, test tests/data/augment/test_flip.cpp).
#include "data/augment/flip.h"

#include <algorithm>

namespace pleura::augment {

void hflip(GrayImage& image) {
  for (int64_t y = 0; y < image.height; ++y) {
    auto row = image.pixels.begin() + y * image.width;
    std::reverse(row, row + image.width);
  }
}

}  // namespace pleura::augment
