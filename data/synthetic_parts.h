// The pieces of a synthetic chest radiograph (used by synthetic_chest.cpp only): random anatomy (body,
// lungs, mediastinum, heart, ribs, clavicles, spine, exposure), lesion geometry, the vessel tree and
// value noise. Units: u, v in 0..1 across and down the image. Implemented in synthetic_parts.cpp.
#pragma once

#include <cstdint>
#include <vector>

namespace pleura {
class Rng;
}

namespace pleura::data::detail {

// A lung as a superellipse (exponent 3) whose upper half is narrower and tilted towards the midline.
struct Lung {
  int side = -1;  // -1: image left (the patient's right lung), +1: image right
  double cx = 0, cy = 0, rx = 0, ry_top = 0, ry_bottom = 0, tilt = 0;
  struct Polar {
    double r;      // normalised radius, 1 on the lung wall
    double theta;  // atan2 in normalised coordinates (y down)
    double span;   // image units per unit of r here (1 / |grad r|), to measure widths in pixels
  };
  // Far outside the lung (beyond 1.5 on an axis) r is reported as 1.5; theta is computed only when
  // asked for (atan2 is the costly part).
  Polar polar(double u, double v, bool with_angle) const;
};

struct Anatomy {
  double cx = 0.5;               // body midline
  double body_half_width = 0.45, body_top = 0.0;
  Lung lungs[2];
  double heart_cx = 0, heart_cy = 0, heart_rx = 0, heart_ry = 0;
  double rib_top = 0, rib_gap = 0, rib_curve = 0;
  double lung_brightness = 0;    // shifts the lungs' density
  double gamma = 1, contrast = 1, brightness = 0, noise = 0.01;

  // `pixel` is one pixel in image units (1 / size): edges are that soft.
  double body_inside(double u, double v, double pixel) const;   // 0..1
  double heart_inside(double u, double v, double pixel) const;  // 0..1
  double vertebra(double v) const;                              // spine density of row v
  // Added density of the mediastinum, the heart (heart_inside value) and the spine.
  double mediastinum(double u, double v, double heart, double vertebra) const;
  double bones(double u, double v, double pixel) const;         // added density: ribs and clavicles
};

Anatomy random_anatomy(Rng& rng);

// A crescent along the wall of lung `lung`: the pixels closer to the wall than depth_at(theta) (image
// units), theta measured around the lung centre. Full depth over the middle third of theta0 +- half_span
// (there the pleural line runs parallel to the wall), tapering to nothing at the ends.
struct Lesion {
  int lung = 0;
  double theta0 = 0, half_span = 1, depth = 0.1;
  double depth_at(double theta) const;
};

// Places a lesion: apical (35%), apico-lateral (35%), lateral (25%) or basal-lateral (5%).
Lesion random_lesion(Rng& rng, int lung, double depth, double half_span);

// Euclidean distance (pixels) from each pixel of a size x size mask to the nearest pixel outside it (0
// outside), by the separable exact transform of Felzenszwalb and Huttenlocher.
std::vector<float> distance_inside(const std::vector<uint8_t>& inside, int64_t size);

// Added density of the pulmonary vessels: a branching tree from each hilum, size x size, row-major.
std::vector<float> render_vessels(const Anatomy& anatomy, int64_t size, Rng& rng);

// Smooth value noise in about -1..1 over a size x size image: `octaves` octaves from `cells` lattice
// cells across the image, each octave twice as fine and half as strong.
class ValueNoise {
 public:
  ValueNoise(Rng& rng, int cells, int octaves, int64_t size);
  // Values at the pixel centres of row v (0..1 down the image).
  void row(double v, std::vector<float>& out) const;

 private:
  struct Octave {
    int cells = 0;
    std::vector<float> lattice;  // (cells + 1)^2 values
    std::vector<int> column_cell;
    std::vector<float> column_weight;
  };
  int64_t size_;
  std::vector<Octave> octaves_;
};

}  // namespace pleura::data::detail
