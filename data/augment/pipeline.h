// The solution's augmentation chain on one (image, mask) pair, with random numbers from an explicit Rng:
// HorizontalFlip -> OneOf(contrast, gamma, brightness) -> OneOf(elastic, grid, optical) ->
// ShiftScaleRotate -> Resize. Test: tests/data/augment/test_pipeline.cpp.
#pragma once

#include <string>

#include "engine/random.h"
#include "data/augment/config.h"
#include "data/image.h"

namespace pleura::augment {

enum class IntensityKind { kNone, kContrast, kGamma, kBrightness };
enum class DistortionKind { kNone, kElastic, kGrid, kOptical };

// What one call applied (for logs and tests).
struct AugmentTrace {
  bool hflip = false;
  IntensityKind intensity = IntensityKind::kNone;
  DistortionKind distortion = DistortionKind::kNone;
  bool shift_scale_rotate = false;
  bool resized = false;
};
std::string describe(const AugmentTrace& trace);

// Augments image (bilinear) and mask (nearest) together, in place; both end config.size x config.size.
// The random draws, in order: flip coin; intensity coin, member, parameters; distortion coin, member,
// parameters; shift-scale-rotate coin, parameters (a coin is one uniform in [0, 1), applied when < p;
// parameters are drawn only for the transforms applied). image and mask must have the same size.
// `config` is assumed valid (validate() it once, up front).
AugmentTrace augment_pair(GrayImage& image, GrayImage& mask, const AugmentConfig& config, Rng& rng);

}  // namespace pleura::augment
