// GrayImage: the 8-bit, single-channel, row-major image that flows through the data pipeline
// (decoders in data/, augmentations in data/augment/, the loader). The reference pipeline works
// on 8-bit images too (OpenCV on uint8), and masks travel as 0/255 bytes until they become tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pleura {

struct GrayImage {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // height * width bytes, row y at pixels[y * width]

  GrayImage() = default;
  GrayImage(int64_t h, int64_t w, uint8_t fill = 0)
      : height(h), width(w), pixels(static_cast<size_t>(h * w), fill) {}
  uint8_t& at(int64_t y, int64_t x) { return pixels[static_cast<size_t>(y * width + x)]; }
  uint8_t at(int64_t y, int64_t x) const { return pixels[static_cast<size_t>(y * width + x)]; }
  bool empty() const { return pixels.empty(); }
};

}  // namespace pleura
