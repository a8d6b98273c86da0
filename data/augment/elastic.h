// ElasticTransform (albumentations 0.3, approximate=False): a random affine warp that moves three
// anchor points, then a smooth random displacement field (Simard et al. 2003). Both steps resample with
// cv2 semantics (warp.h). Test: tests/data/augment/test_elastic.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/random.h"
#include "data/augment/config.h"
#include "data/augment/warp.h"

namespace pleura::augment {

struct ElasticParams {
  int64_t height = 0;
  int64_t width = 0;
  // Offsets added to the three anchor points (x0, y0, x1, y1, x2, y2), float32 as in the reference.
  std::array<float, 6> anchor_offsets{};
  // Displacement per pixel (row-major), in pixels: blurred U(-1, 1) noise times alpha, float32.
  std::vector<float> dx;
  std::vector<float> dy;
};

// Draws the six anchor offsets, then the x field, then the y field (the reference's order). The noise
// is our Rng's, not NumPy's: the distribution matches, the numbers do not.
ElasticParams draw_elastic(const ElasticConfig& config, int64_t height, int64_t width, Rng& rng);

// The forward affine matrix: cv2.getAffineTransform(anchors, anchors + offsets), where the anchors are
// the reference's (c0+s, c1+s), (c0+s, c1-s), (c0-s, c1-s) with (c0, c1) = (height//2, width//2) read
// as (x, y) and s = min(height, width)//3 (the reference's order; only a square image is centred).
Affine elastic_affine(int64_t height, int64_t width, const std::array<float, 6>& anchor_offsets);

// The remap field: map_x = float32(x + dx), map_y = float32(y + dy).
RemapField elastic_field(const ElasticParams& params);

// Applies the affine warp, then the remap (both with `interp`).
GrayImage elastic_transform(const GrayImage& src, const ElasticParams& params, Interp interp);

// scipy.ndimage.gaussian_filter(data, sigma) on a row-major height x width float64 array, in place:
// separable, truncate 4.0 (radius int(4*sigma + 0.5)), normalised weights exp(-x^2 / (2 sigma^2)),
// mode 'reflect' (edge sample repeated). sigma <= 1e-15 leaves the data unchanged, as scipy does.
void gaussian_filter_reflect(std::vector<double>& data, int64_t height, int64_t width, double sigma);

}  // namespace pleura::augment
