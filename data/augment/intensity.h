// The intensity transforms of the solution (image only, masks untouched), with albumentations 0.3's
// uint8 semantics: a 256-entry lookup table, values truncated (not rounded) to 0..255.
// RandomContrast, RandomBrightness, RandomGamma. Test: tests/data/augment/test_intensity.cpp.
#pragma once

#include <array>
#include <cstdint>

#include "data/image.h"

namespace pleura::augment {

using Lut = std::array<uint8_t, 256>;
void apply_lut(GrayImage& image, const Lut& lut);

// RandomContrast(limit): alpha = 1 + U(-limit, limit); lut[i] = uint8(clip(float32(i) * float32(alpha),
// 0, 255)) (float32 product, truncation). alpha == 1 is the identity.
Lut contrast_lut(double alpha);
void adjust_contrast(GrayImage& image, double alpha);

// RandomBrightness(limit): beta = U(-limit, limit); albumentations 0.3 scales the shift by the image's
// own mean: lut[i] = uint8(clip(float32(i) + float32(beta * mean(image)), 0, 255)). (From 0.4 on,
// albumentations shifts by beta*255 instead; the solution ran 0.3.) beta == 0 is the identity.
Lut brightness_lut(double beta, double image_mean);
void adjust_brightness(GrayImage& image, double beta);
// Mean of all pixels, exactly as NumPy computes it for uint8 (integer sum, one division).
double image_mean(const GrayImage& image);

// RandomGamma(gamma_limit (80, 120)): gamma = randint(lo, hi) / 100 (both ends included);
// lut[i] = uint8((i / 255) ^ (1 / gamma) * 255) in double, truncated. gamma == 1 is the identity.
Lut gamma_lut(double gamma);
void adjust_gamma(GrayImage& image, double gamma);

}  // namespace pleura::augment
