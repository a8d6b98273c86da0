// AugmentConfig checks and presets (header config.h).
#include "data/augment/config.h"

#include "engine/error.h"

namespace pleura::augment {

namespace {
void check_probability(double p, const char* field) {
  PLEURA_CHECK(p >= 0.0 && p <= 1.0, "[augment] ", field, " = ", p, ": must be a probability in [0, 1]");
}
void check_non_negative(double v, const char* field) {
  PLEURA_CHECK(v >= 0.0, "[augment] ", field, " = ", v, ": must be >= 0");
}
}  // namespace

AugmentConfig resize_only(int64_t size) {
  AugmentConfig c;
  c.hflip.p = 0.0;
  c.intensity.p = 0.0;
  c.distortion.p = 0.0;
  c.shift_scale_rotate.p = 0.0;
  c.size = size;
  return c;
}

void validate(const AugmentConfig& c) {
  check_probability(c.hflip.p, "hflip.p");

  check_probability(c.intensity.p, "intensity.p");
  check_non_negative(c.intensity.contrast.weight, "intensity.contrast.weight");
  check_non_negative(c.intensity.contrast.limit, "intensity.contrast.limit");
  check_non_negative(c.intensity.gamma.weight, "intensity.gamma.weight");
  PLEURA_CHECK(c.intensity.gamma.gamma_min > 0 && c.intensity.gamma.gamma_min <= c.intensity.gamma.gamma_max,
               "[augment] intensity.gamma.gamma_min = ", c.intensity.gamma.gamma_min, ", gamma_max = ",
               c.intensity.gamma.gamma_max, ": need 0 < gamma_min <= gamma_max (percent)");
  check_non_negative(c.intensity.brightness.weight, "intensity.brightness.weight");
  check_non_negative(c.intensity.brightness.limit, "intensity.brightness.limit");
  PLEURA_CHECK(c.intensity.p == 0.0 ||
                   c.intensity.contrast.weight + c.intensity.gamma.weight + c.intensity.brightness.weight > 0.0,
               "[augment] intensity.p = ", c.intensity.p, " but every member weight is 0");

  check_probability(c.distortion.p, "distortion.p");
  check_non_negative(c.distortion.elastic.weight, "distortion.elastic.weight");
  check_non_negative(c.distortion.elastic.alpha, "distortion.elastic.alpha");
  check_non_negative(c.distortion.elastic.sigma, "distortion.elastic.sigma");
  check_non_negative(c.distortion.elastic.alpha_affine, "distortion.elastic.alpha_affine");
  check_non_negative(c.distortion.grid.weight, "distortion.grid.weight");
  PLEURA_CHECK(c.distortion.grid.num_steps >= 1, "[augment] distortion.grid.num_steps = ", c.distortion.grid.num_steps,
               ": must be >= 1");
  check_non_negative(c.distortion.grid.distort_limit, "distortion.grid.distort_limit");
  check_non_negative(c.distortion.optical.weight, "distortion.optical.weight");
  check_non_negative(c.distortion.optical.distort_limit, "distortion.optical.distort_limit");
  check_non_negative(c.distortion.optical.shift_limit, "distortion.optical.shift_limit");
  PLEURA_CHECK(c.distortion.p == 0.0 ||
                   c.distortion.elastic.weight + c.distortion.grid.weight + c.distortion.optical.weight > 0.0,
               "[augment] distortion.p = ", c.distortion.p, " but every member weight is 0");

  check_probability(c.shift_scale_rotate.p, "shift_scale_rotate.p");
  check_non_negative(c.shift_scale_rotate.shift_limit, "shift_scale_rotate.shift_limit");
  PLEURA_CHECK(c.shift_scale_rotate.scale_limit >= 0.0 && c.shift_scale_rotate.scale_limit < 1.0,
               "[augment] shift_scale_rotate.scale_limit = ", c.shift_scale_rotate.scale_limit,
               ": must be in [0, 1) (the scale 1 + U(-limit, limit) must stay positive)");
  check_non_negative(c.shift_scale_rotate.rotate_limit, "shift_scale_rotate.rotate_limit");

  PLEURA_CHECK(c.size > 0 && c.size < 32768, "[augment] size = ", c.size, ": must be in [1, 32767]");
}

}  // namespace pleura::augment
