// Rendering of one synthetic chest radiograph (see synthetic.h). Geometry is in normalised image units
// (u = x / size across, v = y / size down), so every size draws the same anatomy; only pixel-level
// widths (pleural line, vessel cores) and the noise are in pixels. Intensities are linear "density"
// values in 0..1 (brighter = denser), turned into 8 bits after the exposure curve.
#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/random.h"
#include "data/synthetic.h"
#include "data/synthetic_parts.h"

namespace pleura::data {
namespace {

using detail::Lesion;
using detail::Lung;

double smoothstep(double e0, double e1, double x) {
  const double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

// How each difficulty draws a lesion and its surroundings.
struct Style {
  double depth_lo, depth_hi;        // lesion depth (distance from the wall to the pleural line), image units
  double span_lo, span_hi;          // angular half-span around the lung centre, radians
  double texture_left;              // fraction of vessels / parenchymal texture left inside the lesion
  double lucency;                   // density removed inside the lesion (air instead of lung)
  double line_amplitude, line_px;   // pleural line: added density and Gaussian width in pixels at 256
};

Style style_for(Difficulty d) {
  if (d == Difficulty::kDemo) return {0.045, 0.11, 0.70, 1.25, 0.0, 0.09, 0.14, 1.3};
  // Realistic: from a 2-pixel rim to about half the lung's width at 256 (log-uniform); air is a little
  // more lucent than lung, but the crescent lies where the chest wall overlaps the lung, so its mean
  // stays near the lung's median (best threshold dice about 0.1 over 30 lesions).
  return {0.008, 0.10, 0.35, 1.10, 0.08, 0.015, 0.035, 0.75};
}

// Lesions: the first in a random lung, a second one in the other lung.
std::vector<Lesion> place_lesions(Rng& rng, const Style& style, int lesion_count, double S) {
  std::vector<Lesion> lesions;
  const int first_lung = static_cast<int>(rng.below(2));
  for (int k = 0; k < lesion_count; ++k) {
    // At least 2 pixels deep, so that a lesion never vanishes at small sizes.
    const double depth = std::max(style.depth_lo * std::pow(style.depth_hi / style.depth_lo, rng.uniform()), 2.0 / S);
    lesions.push_back(detail::random_lesion(rng, (first_lung + k) % 2, depth,
                                            rng.uniform(style.span_lo, style.span_hi)));
  }
  return lesions;
}

// Per pixel (size x size, row-major): how much of it is lung, which lung, the angle around that lung's
// centre, closeness to its wall, whether it counts as inside, and the distance to the wall.
struct LungFields {
  std::vector<float> weight, theta, rim;
  std::vector<int8_t> lung_of;
  std::vector<uint8_t> inside;
  std::vector<float> wall;  // pixels to the boundary, half a pixel before the first outside centre
};

// Pass 1: the lung fields.
LungFields lung_fields(const detail::Anatomy& anatomy, const std::vector<Lesion>& lesions, int64_t size) {
  const double S = static_cast<double>(size);
  const double px = S / 256.0;
  const double pixel = 1.0 / S;
  const size_t n = static_cast<size_t>(size * size);
  LungFields f{std::vector<float>(n, 0.0f), std::vector<float>(n, 0.0f), std::vector<float>(n, 0.0f),
               std::vector<int8_t>(n, -1), std::vector<uint8_t>(n, 0), {}};
  const double wall_soft = 1.5 * px;  // lung wall blur, pixels
  for (int64_t y = 0; y < size; ++y) {
    const double v = (static_cast<double>(y) + 0.5) / S;
    for (int64_t x = 0; x < size; ++x) {
      const double u = (static_cast<double>(x) + 0.5) / S;
      const size_t i = static_cast<size_t>(y * size + x);
      for (int l = 0; l < 2; ++l) {
        const Lung& lung = anatomy.lungs[l];
        if ((u - anatomy.cx) * lung.side < -0.02) continue;  // each lung keeps to its side of the midline
        const bool has_lesion = std::any_of(lesions.begin(), lesions.end(), [&](const Lesion& e) { return e.lung == l; });
        const Lung::Polar p = lung.polar(u, v, has_lesion);
        if (p.r > 1.2) continue;
        const double edge = (p.r - 1.0) * p.span * S;  // signed distance to the wall, pixels
        const double w = smoothstep(wall_soft, -wall_soft, edge) * (1.0 - anatomy.heart_inside(u, v, pixel));
        if (w <= f.weight[i]) continue;
        f.weight[i] = static_cast<float>(w);
        f.lung_of[i] = static_cast<int8_t>(l);
        f.theta[i] = static_cast<float>(p.theta);
        f.rim[i] = static_cast<float>(smoothstep(0.75, 1.0, p.r));  // chest-wall soft tissue over the periphery
      }
      f.inside[i] = f.weight[i] >= 0.5f;
    }
  }
  f.wall = detail::distance_inside(f.inside, size);
  return f;
}

// What the lesions do at lung pixel i: the share of it inside a lesion and the strength of the pleural
// line; marks the pixel in the masks of the lesions it lies in.
struct LesionEffect {
  double weight = 0.0, line = 0.0;
};

LesionEffect lesion_effect(const std::vector<Lesion>& lesions, const LungFields& f, size_t i, double S,
                           double line_width, std::vector<GrayImage>& masks) {
  const double w = f.weight[i];
  LesionEffect e;
  for (size_t k = 0; k < lesions.size(); ++k) {
    if (lesions[k].lung != f.lung_of[i]) continue;
    const double depth_px = lesions[k].depth_at(f.theta[i]) * S;
    if (depth_px <= 0) continue;
    const double from_line = depth_px - std::max(0.0, static_cast<double>(f.wall[i]) - 0.5);  // > 0: lesion
    const double inside = smoothstep(-0.5, 0.5, from_line) * w;
    e.weight = std::max(e.weight, inside);
    if (inside >= 0.5 && f.inside[i]) masks[k].pixels[i] = 255;
    // The line fades out where the crescent thins to nothing.
    e.line += w * smoothstep(0.0, 0.35, depth_px / (lesions[k].depth * S)) *
              std::exp(-0.5 * (from_line * from_line) / (line_width * line_width));
  }
  return e;
}

// The textures of pass 2, drawn from the seed's stream after the vessels.
struct Textures {
  std::vector<float> vessels;
  detail::ValueNoise texture;  // parenchyma: 10, 20, 40 cells across
  detail::ValueNoise mottle;   // large-scale density variation of soft tissue
};

// Pass 2: the densities; fills the lung field and lesion masks of `out`.
std::vector<float> render_density(const detail::Anatomy& anatomy, const Style& style, const std::vector<Lesion>& lesions,
                                  const LungFields& f, const Textures& t, int64_t size, SyntheticChest& out) {
  const double S = static_cast<double>(size);
  const double px = S / 256.0;
  const double pixel = 1.0 / S;
  out.lung_field = GrayImage(size, size, 0);
  for (size_t k = 0; k < lesions.size(); ++k) out.lesions.emplace_back(size, size, 0);
  std::vector<float> density(static_cast<size_t>(size * size));
  std::vector<float> mottle_row, texture_row;
  const double line_width = style.line_px * px;
  for (int64_t y = 0; y < size; ++y) {
    const double v = (static_cast<double>(y) + 0.5) / S;
    t.mottle.row(v, mottle_row);
    t.texture.row(v, texture_row);
    const double vertebra = anatomy.vertebra(v);
    const double abdomen = 0.10 * smoothstep(0.70, 0.95, v);
    const double lung_base = 0.16 + 0.07 * smoothstep(0.30, 0.80, v) + anatomy.lung_brightness;
    for (int64_t x = 0; x < size; ++x) {
      const double u = (static_cast<double>(x) + 0.5) / S;
      const size_t i = static_cast<size_t>(y * size + x);
      // Soft tissue inside the body outline, air outside; mediastinum, heart and spine on top.
      const double body = anatomy.body_inside(u, v, pixel);
      const double heart = anatomy.heart_inside(u, v, pixel);
      double d = 0.05 + body * (0.47 + 0.05 * mottle_row[static_cast<size_t>(x)] + abdomen +
                                anatomy.mediastinum(u, v, heart, vertebra));
      const double w = f.weight[i];
      if (w > 0) {
        // Lung replaces soft tissue; a lesion removes the lung texture between the wall and its line.
        const LesionEffect e = lesion_effect(lesions, f, i, S, line_width, out.lesions);
        const double keep = 1.0 - e.weight * (1.0 - style.texture_left);
        const double lung_value = lung_base + 0.05 * f.rim[i] +
                                  keep * (t.vessels[i] + 0.03 * texture_row[static_cast<size_t>(x)]) -
                                  e.weight * style.lucency + style.line_amplitude * std::min(e.line, 1.0);
        d = d * (1.0 - w) + lung_value * w;
      }
      if (f.inside[i]) out.lung_field.pixels[i] = 255;
      d += body * anatomy.bones(u, v, pixel);
      density[i] = static_cast<float>(d);
    }
  }
  return density;
}

// Exposure (gamma through a 4096-entry table, linearly interpolated), quantum noise, 8 bits.
GrayImage expose(const std::vector<float>& density, const detail::Anatomy& anatomy, int64_t size, Rng& rng) {
  constexpr int kTable = 4096;
  std::vector<double> curve(kTable + 1);
  for (int k = 0; k <= kTable; ++k) curve[static_cast<size_t>(k)] = std::pow(static_cast<double>(k) / kTable, anatomy.gamma);
  GrayImage image(size, size);
  for (size_t i = 0; i < density.size(); ++i) {
    const double t = std::clamp(static_cast<double>(density[i]), 0.0, 1.0) * kTable;
    const int k = std::min(static_cast<int>(t), kTable - 1);
    const double g = curve[static_cast<size_t>(k)] + (t - k) * (curve[static_cast<size_t>(k) + 1] - curve[static_cast<size_t>(k)]);
    const double d = g * anatomy.contrast + anatomy.brightness + anatomy.noise * rng.normal();
    image.pixels[i] = static_cast<uint8_t>(std::lround(std::clamp(d, 0.0, 1.0) * 255.0));
  }
  return image;
}

}  // namespace

Difficulty parse_difficulty(const std::string& name) {
  if (name == "realistic") return Difficulty::kRealistic;
  if (name == "demo") return Difficulty::kDemo;
  throw_error(cat("unknown difficulty '", name, "' (expected realistic or demo)"));
}

const char* difficulty_name(Difficulty difficulty) {
  return difficulty == Difficulty::kDemo ? "demo" : "realistic";
}

SyntheticChest render_synthetic_chest(int64_t size, Difficulty difficulty, int lesion_count, uint64_t seed) {
  PLEURA_CHECK(size >= 32 && size <= 4096, "[synthetic] size ", size, " is outside 32..4096");
  PLEURA_CHECK(lesion_count >= 0 && lesion_count <= 2, "[synthetic] lesion_count ", lesion_count, ", expected 0..2");
  // The order of the draws from rng (anatomy, lesions, vessels, textures, noise) makes the image.
  Rng rng(seed);
  const Style style = style_for(difficulty);
  const detail::Anatomy anatomy = detail::random_anatomy(rng);
  const std::vector<Lesion> lesions = place_lesions(rng, style, lesion_count, static_cast<double>(size));
  // A braced list is evaluated left to right: vessels, then texture, then mottle.
  const Textures textures{detail::render_vessels(anatomy, size, rng), detail::ValueNoise(rng, 10, 3, size),
                          detail::ValueNoise(rng, 4, 2, size)};
  const LungFields fields = lung_fields(anatomy, lesions, size);
  SyntheticChest out;
  const std::vector<float> density = render_density(anatomy, style, lesions, fields, textures, size, out);
  out.image = expose(density, anatomy, size, rng);
  return out;
}

}  // namespace pleura::data
