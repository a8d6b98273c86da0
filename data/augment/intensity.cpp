// Contrast, brightness and gamma lookup tables (header intensity.h, test
// tests/data/augment/test_intensity.cpp). The float32 steps mirror NumPy's: albumentations 0.3 builds
// the contrast/brightness table as a float32 array, multiplies it by alpha and adds beta*mean (both
// cast to float32 first), clips to [0, 255] and casts to uint8, which truncates.
#include "data/augment/intensity.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace pleura::augment {

namespace {
uint8_t truncate_clipped(double v) { return static_cast<uint8_t>(std::clamp(v, 0.0, 255.0)); }
}  // namespace

void apply_lut(GrayImage& image, const Lut& lut) {
  for (uint8_t& p : image.pixels) p = lut[p];
}

Lut contrast_lut(double alpha) {
  Lut lut;
  const float a = static_cast<float>(alpha);
  for (int i = 0; i < 256; ++i) lut[i] = alpha == 1.0 ? static_cast<uint8_t>(i) : truncate_clipped(static_cast<float>(i) * a);
  return lut;
}

void adjust_contrast(GrayImage& image, double alpha) { apply_lut(image, contrast_lut(alpha)); }

double image_mean(const GrayImage& image) {
  PLEURA_CHECK(!image.pixels.empty(), "[brightness] mean of an empty image");
  uint64_t sum = 0;
  for (uint8_t p : image.pixels) sum += p;
  return static_cast<double>(sum) / static_cast<double>(image.pixels.size());
}

Lut brightness_lut(double beta, double mean) {
  Lut lut;
  const float shift = static_cast<float>(beta * mean);
  for (int i = 0; i < 256; ++i) lut[i] = beta == 0.0 ? static_cast<uint8_t>(i) : truncate_clipped(static_cast<float>(i) + shift);
  return lut;
}

void adjust_brightness(GrayImage& image, double beta) {
  if (beta == 0.0) return;
  apply_lut(image, brightness_lut(beta, image_mean(image)));
}

Lut gamma_lut(double gamma) {
  PLEURA_CHECK(gamma > 0.0, "[gamma] gamma must be positive, got ", gamma);
  Lut lut;
  const double inv = 1.0 / gamma;
  for (int i = 0; i < 256; ++i) lut[i] = truncate_clipped(std::pow(i / 255.0, inv) * 255.0);
  return lut;
}

void adjust_gamma(GrayImage& image, double gamma) { apply_lut(image, gamma_lut(gamma)); }

}  // namespace pleura::augment
