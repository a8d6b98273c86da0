// RgbImage: an 8-bit, three-channel, row-major image (R, G, B interleaved), the colour counterpart of
// GrayImage (data/image.h) for the review overlays (eval/overlay.h). Written and read as PNG by
// data/image_io.h (write_png_rgb, read_png_rgb). Tests: tests/data/test_image_io.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pleura {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

struct RgbImage {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // height * width * 3 bytes, pixel (y, x) at pixels[3 * (y * width + x)]

  RgbImage() = default;
  RgbImage(int64_t h, int64_t w, Rgb fill = {}) : height(h), width(w), pixels(static_cast<size_t>(h * w * 3)) {
    for (size_t i = 0; i < pixels.size(); i += 3) {
      pixels[i] = fill.r;
      pixels[i + 1] = fill.g;
      pixels[i + 2] = fill.b;
    }
  }
  Rgb at(int64_t y, int64_t x) const {
    const size_t i = static_cast<size_t>(3 * (y * width + x));
    return {pixels[i], pixels[i + 1], pixels[i + 2]};
  }
  void set(int64_t y, int64_t x, Rgb c) {
    const size_t i = static_cast<size_t>(3 * (y * width + x));
    pixels[i] = c.r;
    pixels[i + 1] = c.g;
    pixels[i + 2] = c.b;
  }
};

}  // namespace pleura
