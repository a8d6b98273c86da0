// The augmentation settings of a run: one plain struct per transform, nested as the solution's
// albumentations Compose is. Every field is named as its INI key will be (section [augment], key =
// the dotted path, e.g. `distortion.grid.distort_limit = 0.3`); the defaults are the solution's.
// Checked by validate(); test: tests/data/augment/test_pipeline.cpp.
#pragma once

#include <cstdint>

namespace pleura::augment {

// albu.HorizontalFlip(): mirror image and mask with probability p.
struct HorizontalFlipConfig {
  double p = 0.5;
};

// albu.RandomContrast(limit): alpha = 1 + U(-limit, limit).
struct ContrastConfig {
  double weight = 1.0;  // relative chance inside the OneOf (albumentations: the member's p, 0.5 each)
  double limit = 0.2;
};
// albu.RandomGamma(gamma_limit=(80, 120)): gamma = randint(gamma_min, gamma_max) / 100.
struct GammaConfig {
  double weight = 1.0;
  int gamma_min = 80;
  int gamma_max = 120;
};
// albu.RandomBrightness(limit): beta = U(-limit, limit), shift = beta * mean(image) (albumentations 0.3).
struct BrightnessConfig {
  double weight = 1.0;
  double limit = 0.2;
};
// albu.OneOf([RandomContrast, RandomGamma, RandomBrightness], p): with probability p, one member,
// chosen with chance proportional to its weight. Image only.
struct IntensityConfig {
  double p = 0.3;
  ContrastConfig contrast;
  GammaConfig gamma;
  BrightnessConfig brightness;
};

// albu.ElasticTransform(alpha=120, sigma=120*0.05, alpha_affine=120*0.03): a random affine warp (three
// anchor points moved by U(-alpha_affine, alpha_affine) pixels), then a displacement field of
// U(-1, 1) noise blurred by a Gaussian of std `sigma` pixels and scaled by `alpha` pixels.
struct ElasticConfig {
  double weight = 1.0;
  double alpha = 120.0;
  double sigma = 6.0;
  double alpha_affine = 3.6;
};
// albu.GridDistortion(num_steps=5, distort_limit=0.3): cells of width/num_steps pixels stretched by
// 1 + U(-distort_limit, distort_limit) along each axis.
struct GridDistortionConfig {
  double weight = 1.0;
  int num_steps = 5;
  double distort_limit = 0.3;
};
// albu.OpticalDistortion(distort_limit=2, shift_limit=0.5): barrel/pincushion k = U(-distort_limit,
// distort_limit) (both radial terms k1 = k2 = k, focal length = width), principal point shifted by
// round(U(-shift_limit, shift_limit)) pixels (so 0.5 never shifts: Python rounds half to even).
struct OpticalDistortionConfig {
  double weight = 1.0;
  double distort_limit = 2.0;
  double shift_limit = 0.5;
};
// albu.OneOf([ElasticTransform, GridDistortion, OpticalDistortion], p): image and mask.
struct DistortionConfig {
  double p = 0.3;
  ElasticConfig elastic;
  GridDistortionConfig grid;
  OpticalDistortionConfig optical;
};

// albu.ShiftScaleRotate(): shift U(-shift_limit, shift_limit) of the width / height, scale
// 1 + U(-scale_limit, scale_limit), rotation U(-rotate_limit, rotate_limit) degrees about the centre.
struct ShiftScaleRotateConfig {
  double p = 0.5;
  double shift_limit = 0.0625;
  double scale_limit = 0.1;
  double rotate_limit = 45.0;
};

// The whole chain, in the solution's order: flip, intensity, distortion, shift-scale-rotate, then
// albu.Resize(size, size, always_apply=True) (bilinear for the image, nearest for the mask).
struct AugmentConfig {
  HorizontalFlipConfig hflip;
  IntensityConfig intensity;
  DistortionConfig distortion;
  ShiftScaleRotateConfig shift_scale_rotate;
  int64_t size = 1024;  // output height = width, in pixels
};

// The validation / inference chain: no random transform, only the resize to `size`.
AugmentConfig resize_only(int64_t size);

// Throws pleura::Error naming the field (e.g. "[augment] distortion.grid.num_steps = 0: must be >= 1").
void validate(const AugmentConfig& config);

}  // namespace pleura::augment
