// The augmentation chain (header pipeline.h). Each OneOf picks its member with chance proportional to
// the member weights (albumentations normalises the members' p, 0.5 each in the solution: equal).
#include "data/augment/pipeline.h"

#include "engine/error.h"
#include "data/augment/elastic.h"
#include "data/augment/flip.h"
#include "data/augment/grid_distortion.h"
#include "data/augment/intensity.h"
#include "data/augment/optical_distortion.h"
#include "data/augment/shift_scale_rotate.h"
#include "data/augment/warp.h"
#include "data/resize.h"

namespace pleura::augment {

namespace {

// Index of the member chosen with chance proportional to w[i] (total > 0).
int choose(Rng& rng, double w0, double w1, double w2) {
  const double u = rng.uniform() * (w0 + w1 + w2);
  if (u < w0) return 0;
  if (u < w0 + w1 || w2 <= 0.0) return 1;
  return 2;
}

IntensityKind apply_intensity(GrayImage& image, const IntensityConfig& c, Rng& rng) {
  switch (choose(rng, c.contrast.weight, c.gamma.weight, c.brightness.weight)) {
    case 0:
      adjust_contrast(image, 1.0 + rng.uniform(-c.contrast.limit, c.contrast.limit));
      return IntensityKind::kContrast;
    case 1: {
      const uint64_t span = static_cast<uint64_t>(c.gamma.gamma_max - c.gamma.gamma_min + 1);
      adjust_gamma(image, static_cast<double>(c.gamma.gamma_min + static_cast<int>(rng.below(span))) / 100.0);
      return IntensityKind::kGamma;
    }
    default:
      adjust_brightness(image, rng.uniform(-c.brightness.limit, c.brightness.limit));
      return IntensityKind::kBrightness;
  }
}

void remap_pair(GrayImage& image, GrayImage& mask, const RemapField& field) {
  image = remap(image, field, Interp::kLinear);
  mask = remap(mask, field, Interp::kNearest);
}

void warp_pair(GrayImage& image, GrayImage& mask, const Affine& forward) {
  image = warp_affine(image, forward, Interp::kLinear);
  mask = warp_affine(mask, forward, Interp::kNearest);
}

DistortionKind apply_distortion(GrayImage& image, GrayImage& mask, const DistortionConfig& c, Rng& rng) {
  const int64_t h = image.height, w = image.width;
  switch (choose(rng, c.elastic.weight, c.grid.weight, c.optical.weight)) {
    case 0: {
      const ElasticParams p = draw_elastic(c.elastic, h, w, rng);
      warp_pair(image, mask, elastic_affine(h, w, p.anchor_offsets));
      remap_pair(image, mask, elastic_field(p));
      return DistortionKind::kElastic;
    }
    case 1:
      remap_pair(image, mask, grid_distortion_field(h, w, draw_grid_distortion(c.grid, rng)));
      return DistortionKind::kGrid;
    default:
      remap_pair(image, mask, optical_distortion_field(h, w, draw_optical_distortion(c.optical, rng)));
      return DistortionKind::kOptical;
  }
}

const char* name(IntensityKind k) {
  switch (k) {
    case IntensityKind::kContrast: return "contrast";
    case IntensityKind::kGamma: return "gamma";
    case IntensityKind::kBrightness: return "brightness";
    default: return "none";
  }
}
const char* name(DistortionKind k) {
  switch (k) {
    case DistortionKind::kElastic: return "elastic";
    case DistortionKind::kGrid: return "grid";
    case DistortionKind::kOptical: return "optical";
    default: return "none";
  }
}

}  // namespace

std::string describe(const AugmentTrace& t) {
  return cat("hflip=", t.hflip ? 1 : 0, " intensity=", name(t.intensity), " distortion=", name(t.distortion),
             " shift_scale_rotate=", t.shift_scale_rotate ? 1 : 0, " resized=", t.resized ? 1 : 0);
}

AugmentTrace augment_pair(GrayImage& image, GrayImage& mask, const AugmentConfig& c, Rng& rng) {
  PLEURA_CHECK(!image.empty() && image.height * image.width == static_cast<int64_t>(image.pixels.size()),
               "[augment] bad image ", image.height, "x", image.width, " holding ", image.pixels.size(), " bytes");
  PLEURA_CHECK(image.height == mask.height && image.width == mask.width &&
                   mask.pixels.size() == image.pixels.size(),
               "[augment] image is ", image.height, "x", image.width, " but mask is ", mask.height, "x", mask.width);
  AugmentTrace trace;
  if (rng.uniform() < c.hflip.p) {
    hflip(image);
    hflip(mask);
    trace.hflip = true;
  }
  if (rng.uniform() < c.intensity.p) trace.intensity = apply_intensity(image, c.intensity, rng);
  if (rng.uniform() < c.distortion.p) trace.distortion = apply_distortion(image, mask, c.distortion, rng);
  if (rng.uniform() < c.shift_scale_rotate.p) {
    const ShiftScaleRotateParams p = draw_shift_scale_rotate(c.shift_scale_rotate, rng);
    warp_pair(image, mask, shift_scale_rotate_matrix(p, image.height, image.width));
    trace.shift_scale_rotate = true;
  }
  if (image.height != c.size || image.width != c.size) {
    image = data::resize_bilinear(image, c.size, c.size);
    mask = data::resize_nearest(mask, c.size, c.size);
    trace.resized = true;
  }
  return trace;
}

}  // namespace pleura::augment
