// GridDistortion maps (header grid_distortion.h). The coordinate vectors follow NumPy: linspace in
// float64 (value i = i * step + start, last = stop) stored into a float32 array.
#include "data/augment/grid_distortion.h"

#include "engine/error.h"

namespace pleura::augment {

namespace {

// np.linspace(start, stop, num) written into out[0..num), as float32.
void linspace_into(double start, double stop, int64_t num, float* out) {
  if (num <= 0) return;
  if (num == 1) {
    out[0] = static_cast<float>(start);
    return;
  }
  const double step = (stop - start) / static_cast<double>(num - 1);
  for (int64_t i = 0; i < num - 1; ++i) out[i] = static_cast<float>(static_cast<double>(i) * step + start);
  out[num - 1] = static_cast<float>(stop);
}

std::vector<float> axis_coords(int64_t size, int num_steps, const std::vector<double>& factors, const char* axis) {
  const int64_t step = size / num_steps;
  PLEURA_CHECK(step > 0, "[grid_distortion] ", axis, " size ", size, " is smaller than num_steps ", num_steps);
  std::vector<float> coords(static_cast<size_t>(size), 0.0f);
  double prev = 0.0;
  int64_t idx = 0;
  for (int64_t start = 0; start < size; start += step, ++idx) {
    PLEURA_CHECK(idx < static_cast<int64_t>(factors.size()), "[grid_distortion] ", axis, " needs more than ",
                 factors.size(), " step factors for size ", size, " and num_steps ", num_steps);
    int64_t end = start + step;
    double cur;
    if (end > size) {
      end = size;
      cur = static_cast<double>(size);
    } else {
      cur = prev + static_cast<double>(step) * factors[static_cast<size_t>(idx)];
    }
    linspace_into(prev, cur, end - start, coords.data() + start);
    prev = cur;
  }
  return coords;
}

}  // namespace

GridDistortionParams draw_grid_distortion(const GridDistortionConfig& c, Rng& rng) {
  GridDistortionParams p;
  p.num_steps = c.num_steps;
  p.steps_x.resize(static_cast<size_t>(c.num_steps + 1));
  p.steps_y.resize(static_cast<size_t>(c.num_steps + 1));
  for (double& v : p.steps_x) v = 1.0 + rng.uniform(-c.distort_limit, c.distort_limit);
  for (double& v : p.steps_y) v = 1.0 + rng.uniform(-c.distort_limit, c.distort_limit);
  return p;
}

RemapField grid_distortion_field(int64_t height, int64_t width, const GridDistortionParams& p) {
  PLEURA_CHECK(p.num_steps >= 1, "[grid_distortion] num_steps = ", p.num_steps, ": must be >= 1");
  const std::vector<float> xx = axis_coords(width, p.num_steps, p.steps_x, "x");
  const std::vector<float> yy = axis_coords(height, p.num_steps, p.steps_y, "y");
  const size_t n = static_cast<size_t>(height * width);
  RemapField f{height, width, std::vector<float>(n), std::vector<float>(n)};
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      f.map_x[static_cast<size_t>(y * width + x)] = xx[static_cast<size_t>(x)];
      f.map_y[static_cast<size_t>(y * width + x)] = yy[static_cast<size_t>(y)];
    }
  }
  return f;
}

}  // namespace pleura::augment
