// Anatomy, lesion placement, vessels and noise of the synthetic radiographs (see synthetic_parts.h).
#include "data/synthetic_parts.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "engine/random.h"

namespace pleura::data::detail {
namespace {

constexpr double kPi = std::numbers::pi;

double smoothstep(double e0, double e1, double x) {
  const double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

double wrap_angle(double a) {
  while (a > kPi) a -= 2 * kPi;
  while (a <= -kPi) a += 2 * kPi;
  return a;
}

// Density added by a band of half-thickness `half` around a centre line at signed distance `dist`:
// a plateau with slightly brighter edges (cortical bone), soft over about a pixel.
double band(double dist, double half, double pixel) {
  const double a = std::abs(dist);
  if (a > half + 2 * pixel) return 0.0;
  const double body = smoothstep(half + pixel, half - pixel, a);
  const double z = (a - half * 0.8) / (0.25 * half + pixel);
  const double rim = std::exp(-0.5 * z * z);
  return 0.75 * body + 0.35 * rim * body;
}

}  // namespace

Lung::Polar Lung::polar(double u, double v, bool with_angle) const {
  const double centre = cx - side * tilt * std::max(0.0, cy - v);
  const double dx = (u - centre) / rx;
  // Below the centre the diaphragm: its dome sits higher medially, the costophrenic angle lowest laterally.
  const double lateral = std::clamp((side * dx + 1.0) / 2.0, 0.0, 1.0);
  const double ry = v < cy ? ry_top : ry_bottom * (0.80 + 0.20 * lateral);
  const double dy = (v - cy) / ry;
  const double ax = std::abs(dx), ay = std::abs(dy);
  if (ax > 1.5 || ay > 1.5) return {1.5, 0.0, 0.0};  // far outside: callers only test r > 1
  const double s = ax * ax * ax + ay * ay * ay;
  const double r = std::cbrt(s);
  // |grad r| in image units: dr/du = (ax / r)^2 / rx, dr/dv = (ay / r)^2 / ry.
  const double rr = std::max(r, 1e-6);
  const double gu = (ax / rr) * (ax / rr) / rx, gv = (ay / rr) * (ay / rr) / ry;
  return {r, with_angle ? std::atan2(dy, dx) : 0.0, 1.0 / std::max(std::sqrt(gu * gu + gv * gv), 1e-6)};
}

double Anatomy::body_inside(double u, double v, double pixel) const {
  // A superellipse (exponent 4) from above the image top down past its bottom; the fourth root is only
  // taken within a few pixels of the outline.
  const double dx = (u - cx) / body_half_width, dy = (v - 0.58) / (0.58 - body_top);
  const double r4 = dx * dx * dx * dx + dy * dy * dy * dy;
  const double e = pixel / body_half_width;
  const double lo = (1.0 - 2 * e) * (1.0 - 2 * e), hi = (1.0 + 2 * e) * (1.0 + 2 * e);
  if (r4 < lo * lo) return 1.0;
  if (r4 > hi * hi) return 0.0;
  return smoothstep(1.0 + e, 1.0 - e, std::sqrt(std::sqrt(r4)));
}

double Anatomy::heart_inside(double u, double v, double pixel) const {
  const double dx = (u - heart_cx) / heart_rx, dy = (v - heart_cy) / heart_ry;
  const double r2 = dx * dx + dy * dy;
  if (r2 > 1.3) return 0.0;
  return smoothstep(1.0 + 1.5 * pixel / heart_rx, 1.0 - 1.5 * pixel / heart_rx, std::sqrt(r2));
}

double Anatomy::mediastinum(double u, double v, double heart, double vertebra) const {
  // Upper mediastinum widening towards the heart, merging with it (max: both are soft tissue), and the
  // spine with its vertebrae (`vertebra` is the per-row modulation).
  const double half = 0.05 + 0.035 * smoothstep(0.2, 0.6, v);
  const double d = std::abs(u - cx);
  const double column = smoothstep(half + 0.015, half - 0.015, d) * smoothstep(0.0, 0.08, v);
  const double spine = d < 0.04 ? smoothstep(0.04, 0.025, d) * vertebra : 0.0;
  return 0.24 * std::max(column, heart) + spine;
}

double Anatomy::vertebra(double v) const { return 0.09 + 0.035 * std::cos(2 * kPi * v / 0.047); }

double Anatomy::bones(double u, double v, double pixel) const {
  double sum = 0.0;
  const double side = u < cx ? -1.0 : 1.0;
  const double d = std::abs(u - cx);  // distance from the midline
  if (d > 0.03 && d < 0.47) {
    // Posterior ribs: from the spine they rise a little, then curve down laterally. Only the two ribs
    // whose centre lines bracket v can cover this pixel.
    const double fade = smoothstep(0.03, 0.06, d) * smoothstep(0.47, 0.40, d);
    const double offset = -0.10 * d + rib_curve * d * d;
    const int k0 = static_cast<int>(std::floor((v - rib_top - offset) / rib_gap));
    for (int k = std::max(0, k0); k <= std::min(9, k0 + 1); ++k) {
      const double centre = rib_top + k * rib_gap + offset;
      const double half = 0.0085 + 0.0015 * k / 9.0;
      sum += 0.085 * fade * band(v - centre, half, pixel);
    }
  }
  // Clavicles: from near the midline up and out, one per side.
  if (v < 0.22 && d < 0.34) {
    const double x0 = cx + side * 0.04, y0 = 0.16, x1 = cx + side * 0.31, y1 = 0.085;
    const double lx = x1 - x0, ly = y1 - y0, len2 = lx * lx + ly * ly;
    const double t = std::clamp(((u - x0) * lx + (v - y0) * ly) / len2, 0.0, 1.0);
    const double dist = std::hypot(u - (x0 + t * lx), v - (y0 + t * ly));
    sum += 0.12 * band(dist, 0.012, pixel) * smoothstep(1.0, 0.9, t);
  }
  return sum;
}

Anatomy random_anatomy(Rng& rng) {
  Anatomy a;
  a.cx = 0.5 + 0.015 * rng.normal();
  a.body_half_width = rng.uniform(0.44, 0.49);
  a.body_top = rng.uniform(-0.08, 0.0);
  const double shift = rng.uniform(-0.025, 0.025);
  for (int l = 0; l < 2; ++l) {
    Lung& lung = a.lungs[l];
    lung.side = l == 0 ? -1 : 1;
    lung.rx = rng.uniform(0.165, 0.195);
    lung.cx = a.cx + lung.side * (lung.rx + rng.uniform(0.06, 0.08));  // medial wall beside the mediastinum
    lung.cy = 0.47 + shift + rng.uniform(-0.01, 0.01);
    lung.ry_top = rng.uniform(0.31, 0.35);
    lung.ry_bottom = rng.uniform(0.21, 0.25);
    lung.tilt = rng.uniform(0.10, 0.18);
  }
  a.heart_cx = a.cx + rng.uniform(0.05, 0.08);
  a.heart_cy = 0.67 + shift + rng.uniform(-0.02, 0.02);
  a.heart_rx = rng.uniform(0.13, 0.16);
  a.heart_ry = rng.uniform(0.10, 0.12);
  a.rib_top = 0.10 + shift + rng.uniform(-0.01, 0.01);
  a.rib_gap = rng.uniform(0.060, 0.068);
  a.rib_curve = rng.uniform(0.75, 1.0);
  a.lung_brightness = rng.uniform(-0.02, 0.03);
  a.gamma = rng.uniform(0.85, 1.2);
  a.contrast = rng.uniform(0.9, 1.1);
  a.brightness = rng.uniform(-0.04, 0.04);
  a.noise = rng.uniform(0.008, 0.014);
  return a;
}

double Lesion::depth_at(double theta) const {
  // Full depth over the middle third of the span (the pleural line runs parallel to the wall there),
  // tapering smoothly to the wall at both ends.
  const double t = std::abs(wrap_angle(theta - theta0)) / half_span;
  return t >= 1.0 ? 0.0 : depth * smoothstep(1.0, 0.35, t);
}

Lesion random_lesion(Rng& rng, int lung, double depth, double half_span) {
  // phi: angle from the apex towards the lateral wall (0 apical, pi/2 lateral).
  const double pick = rng.uniform();
  double phi = 0;
  if (pick < 0.35) {
    phi = rng.uniform(-0.15, 0.35);
  } else if (pick < 0.70) {
    phi = rng.uniform(0.35, 0.90);
  } else if (pick < 0.95) {
    phi = rng.uniform(0.90, 1.60);
  } else {
    phi = rng.uniform(1.60, 2.00);
  }
  const double side = lung == 0 ? -1.0 : 1.0;
  Lesion lesion;
  lesion.lung = lung;
  lesion.theta0 = wrap_angle(-kPi / 2 + side * phi);
  lesion.half_span = half_span;
  lesion.depth = depth;
  return lesion;
}

namespace {

// One dimension of the squared distance transform: d[q] = min_p (f[p] + (q - p)^2), by the lower
// envelope of parabolas (v: their apexes, z: the boundaries between them).
void squared_distance_1d(const std::vector<double>& f, std::vector<double>& d, std::vector<int64_t>& v,
                         std::vector<double>& z) {
  const int64_t n = static_cast<int64_t>(f.size());
  constexpr double kInf = std::numeric_limits<double>::infinity();
  auto cross = [&](int64_t q, int64_t p) {
    return ((f[static_cast<size_t>(q)] + static_cast<double>(q * q)) -
            (f[static_cast<size_t>(p)] + static_cast<double>(p * p))) /
           (2.0 * static_cast<double>(q - p));
  };
  int64_t k = 0;
  v[0] = 0;
  z[0] = -kInf;
  z[1] = kInf;
  for (int64_t q = 1; q < n; ++q) {
    double s = cross(q, v[static_cast<size_t>(k)]);
    while (s <= z[static_cast<size_t>(k)]) {  // z[0] = -inf stops this at k = 0
      --k;
      s = cross(q, v[static_cast<size_t>(k)]);
    }
    ++k;
    v[static_cast<size_t>(k)] = q;
    z[static_cast<size_t>(k)] = s;
    z[static_cast<size_t>(k) + 1] = kInf;
  }
  k = 0;
  for (int64_t q = 0; q < n; ++q) {
    while (z[static_cast<size_t>(k) + 1] < static_cast<double>(q)) ++k;
    const int64_t p = v[static_cast<size_t>(k)];
    d[static_cast<size_t>(q)] = static_cast<double>((q - p) * (q - p)) + f[static_cast<size_t>(p)];
  }
}

}  // namespace

std::vector<float> distance_inside(const std::vector<uint8_t>& inside, int64_t size) {
  constexpr double kFar = 1e12;  // larger than any squared distance in an image, small enough to add
  const size_t n = static_cast<size_t>(size);
  std::vector<double> grid(n * n), f(n), d(n), z(n + 1);
  std::vector<int64_t> v(n);
  for (size_t i = 0; i < n * n; ++i) grid[i] = inside[i] ? kFar : 0.0;
  for (size_t x = 0; x < n; ++x) {  // columns
    for (size_t y = 0; y < n; ++y) f[y] = grid[y * n + x];
    squared_distance_1d(f, d, v, z);
    for (size_t y = 0; y < n; ++y) grid[y * n + x] = d[y];
  }
  std::vector<float> out(n * n);
  for (size_t y = 0; y < n; ++y) {  // rows
    for (size_t x = 0; x < n; ++x) f[x] = grid[y * n + x];
    squared_distance_1d(f, d, v, z);
    for (size_t x = 0; x < n; ++x) out[y * n + x] = static_cast<float>(std::sqrt(std::min(d[x], kFar)));
  }
  return out;
}

std::vector<float> render_vessels(const Anatomy& anatomy, int64_t size, Rng& rng) {
  const double S = static_cast<double>(size);
  std::vector<float> out(static_cast<size_t>(size * size), 0.0f);
  // Adds amp * exp(-d^2 / 2 sigma^2) around the segment (x0,y0)-(x1,y1), coordinates in pixels.
  auto segment = [&](double x0, double y0, double x1, double y1, double sigma, double amp) {
    const double reach = 3.0 * sigma;
    const int64_t xa = std::max<int64_t>(0, static_cast<int64_t>(std::floor(std::min(x0, x1) - reach)));
    const int64_t xb = std::min<int64_t>(size - 1, static_cast<int64_t>(std::ceil(std::max(x0, x1) + reach)));
    const int64_t ya = std::max<int64_t>(0, static_cast<int64_t>(std::floor(std::min(y0, y1) - reach)));
    const int64_t yb = std::min<int64_t>(size - 1, static_cast<int64_t>(std::ceil(std::max(y0, y1) + reach)));
    const double lx = x1 - x0, ly = y1 - y0, len2 = std::max(lx * lx + ly * ly, 1e-9);
    for (int64_t y = ya; y <= yb; ++y) {
      for (int64_t x = xa; x <= xb; ++x) {
        const double px = static_cast<double>(x) + 0.5, py = static_cast<double>(y) + 0.5;
        const double t = std::clamp(((px - x0) * lx + (py - y0) * ly) / len2, 0.0, 1.0);
        const double dx = px - (x0 + t * lx), dy = py - (y0 + t * ly);
        const double d2 = dx * dx + dy * dy;
        if (d2 < reach * reach) out[static_cast<size_t>(y * size + x)] += static_cast<float>(amp * std::exp(-0.5 * d2 / (sigma * sigma)));
      }
    }
  };
  struct Branch {
    double u, v, angle, length, width, amp;
    int depth;
  };
  for (const Lung& lung : anatomy.lungs) {
    const double hilum_u = anatomy.cx + lung.side * 0.10, hilum_v = lung.cy;
    std::vector<Branch> stack;
    const int trunks = 6;
    for (int k = 0; k < trunks; ++k) {
      // Outward directions, from down-lateral to up-lateral.
      const double spread = -1.35 + 2.7 * (k + rng.uniform(0.2, 0.8)) / trunks;
      const double angle = lung.side < 0 ? kPi - spread : spread;
      stack.push_back({hilum_u, hilum_v, angle, rng.uniform(0.08, 0.11), 0.0065, 0.075, 5});
    }
    while (!stack.empty()) {
      const Branch b = stack.back();
      stack.pop_back();
      const double u1 = b.u + std::cos(b.angle) * b.length, v1 = b.v + std::sin(b.angle) * b.length;
      segment(b.u * S, b.v * S, u1 * S, v1 * S, std::max(0.45, b.width * S), b.amp);
      if (b.depth == 0 || lung.polar(u1, v1, false).r > 1.0) continue;
      for (int c = 0; c < 2; ++c) {
        const double turn = (c == 0 ? -1.0 : 1.0) * rng.uniform(0.2, 0.5) + 0.08 * rng.normal();
        stack.push_back({u1, v1, b.angle + turn, b.length * rng.uniform(0.70, 0.88), b.width * 0.74, b.amp * 0.74,
                         b.depth - 1});
      }
    }
  }
  return out;
}

ValueNoise::ValueNoise(Rng& rng, int cells, int octaves, int64_t size) : size_(size) {
  for (int o = 0; o < octaves; ++o) {
    Octave oct;
    oct.cells = cells << o;
    oct.lattice.resize(static_cast<size_t>((oct.cells + 1) * (oct.cells + 1)));
    for (float& value : oct.lattice) value = static_cast<float>(rng.uniform(-1.0, 1.0));
    // Per-column lattice cell and smoothed weight, shared by every row.
    for (int64_t x = 0; x < size; ++x) {
      const double fx = (static_cast<double>(x) + 0.5) / static_cast<double>(size) * oct.cells;
      const int ix = std::min(static_cast<int>(fx), oct.cells - 1);
      oct.column_cell.push_back(ix);
      oct.column_weight.push_back(static_cast<float>(smoothstep(0.0, 1.0, fx - ix)));
    }
    octaves_.push_back(std::move(oct));
  }
}

void ValueNoise::row(double v, std::vector<float>& out) const {
  out.assign(static_cast<size_t>(size_), 0.0f);
  std::vector<float> line;
  double amp = 1.0, total = 0.0;
  for (const Octave& o : octaves_) {
    // Interpolate the two lattice rows around v once, then only along x per pixel.
    const int w = o.cells + 1;
    const double fy = std::clamp(v, 0.0, 1.0) * o.cells;
    const int iy = std::min(static_cast<int>(fy), o.cells - 1);
    const float ty = static_cast<float>(smoothstep(0.0, 1.0, fy - iy));
    line.resize(static_cast<size_t>(w));
    for (int x = 0; x < w; ++x) {
      line[static_cast<size_t>(x)] = o.lattice[static_cast<size_t>(iy * w + x)] * (1 - ty) +
                                     o.lattice[static_cast<size_t>((iy + 1) * w + x)] * ty;
    }
    const float a = static_cast<float>(amp);
    for (size_t x = 0; x < out.size(); ++x) {
      const size_t ix = static_cast<size_t>(o.column_cell[x]);
      const float tx = o.column_weight[x];
      out[x] += a * (line[ix] * (1 - tx) + line[ix + 1] * tx);
    }
    total += amp;
    amp *= 0.5;
  }
  // Averaged octaves shrink the spread; 1.6 brings it back near -1..1.
  const float scale = static_cast<float>(1.6 / total);
  for (float& value : out) value *= scale;
}

}  // namespace pleura::data::detail
