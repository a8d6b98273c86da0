// GridDistortion (albumentations 0.3): the image is cut into num_steps cells per axis, each cell
// stretched by its own factor, and resampled with cv2.remap. Test: tests/data/augment/test_grid_distortion.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/random.h"
#include "data/augment/config.h"
#include "data/augment/warp.h"

namespace pleura::augment {

struct GridDistortionParams {
  int num_steps = 5;
  std::vector<double> steps_x;  // num_steps + 1 factors, 1 + U(-distort_limit, distort_limit)
  std::vector<double> steps_y;
};

// Draws all x factors, then all y factors (the reference's order).
GridDistortionParams draw_grid_distortion(const GridDistortionConfig& config, Rng& rng);

// The reference's maps: along each axis, cells of step = size // num_steps pixels starting at 0, step,
// 2*step, ...; cell i spans np.linspace(prev, cur, cell length) with cur = prev + step * factor[i],
// except that a cell cut short by the image edge ends exactly at `size`. Note: with every factor 1 this
// is NOT the identity (linspace puts `step` samples over `step` pixels, so each cell is stretched by
// step/(step-1)); the reference does the same.
RemapField grid_distortion_field(int64_t height, int64_t width, const GridDistortionParams& params);

}  // namespace pleura::augment
