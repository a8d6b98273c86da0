// Tests of data/synthetic.h: determinism, where lesions lie, how their size varies, and the two
// difficulties: realistic lesions are as bright as normal lung (no intensity threshold finds them), demo
// lesions are darker and larger.
#include <algorithm>
#include <array>

#include "tests/testing.h"
#include "data/synthetic.h"

using namespace pleura;
using namespace pleura::data;
using namespace pleura::testing;

namespace {

struct LesionStats {
  int64_t area = 0;
  double lesion_mean = 0;
  int p5 = 0, p50 = 0, p95 = 0;  // percentiles of the normal (lesion-free) lung pixels
  double best_threshold_dice = 0;
};

// Statistics of lesion `k` against the normal lung of the same image. The threshold search tries every
// grey level in both directions (lesion = darker, or = brighter) over the lung field, with histograms.
LesionStats stats_of(const SyntheticChest& c, size_t k) {
  std::array<int64_t, 256> lesion_hist{}, normal_hist{};
  LesionStats s;
  double sum = 0;
  for (size_t i = 0; i < c.image.pixels.size(); ++i) {
    if (!c.lung_field.pixels[i]) continue;
    const uint8_t v = c.image.pixels[i];
    if (c.lesions[k].pixels[i]) {
      ++lesion_hist[v];
      sum += v;
      ++s.area;
    } else {
      ++normal_hist[v];
    }
  }
  s.lesion_mean = sum / static_cast<double>(std::max<int64_t>(s.area, 1));
  int64_t normal_total = 0;
  for (int64_t h : normal_hist) normal_total += h;
  auto percentile = [&](double q) {
    int64_t seen = 0;
    for (int v = 0; v < 256; ++v) {
      seen += normal_hist[static_cast<size_t>(v)];
      if (static_cast<double>(seen) >= q * static_cast<double>(normal_total)) return v;
    }
    return 255;
  };
  s.p5 = percentile(0.05), s.p50 = percentile(0.50), s.p95 = percentile(0.95);
  int64_t tp = 0, predicted = 0;  // "lesion = grey <= t"
  for (int t = 0; t < 256; ++t) {
    tp += lesion_hist[static_cast<size_t>(t)];
    predicted += lesion_hist[static_cast<size_t>(t)] + normal_hist[static_cast<size_t>(t)];
    s.best_threshold_dice = std::max(s.best_threshold_dice, 2.0 * tp / static_cast<double>(predicted + s.area));
  }
  tp = 0, predicted = 0;  // "lesion = grey >= t"
  for (int t = 255; t >= 0; --t) {
    tp += lesion_hist[static_cast<size_t>(t)];
    predicted += lesion_hist[static_cast<size_t>(t)] + normal_hist[static_cast<size_t>(t)];
    s.best_threshold_dice = std::max(s.best_threshold_dice, 2.0 * tp / static_cast<double>(predicted + s.area));
  }
  return s;
}

}  // namespace

TEST_CASE("synthetic: the same seed gives the same image, another seed another") {
  const SyntheticChest a = render_synthetic_chest(96, Difficulty::kRealistic, 2, 123);
  const SyntheticChest b = render_synthetic_chest(96, Difficulty::kRealistic, 2, 123);
  const SyntheticChest c = render_synthetic_chest(96, Difficulty::kRealistic, 2, 124);
  CHECK(a.image.pixels == b.image.pixels);
  REQUIRE(a.lesions.size() == 2);
  CHECK(a.lesions[0].pixels == b.lesions[0].pixels);
  CHECK(a.lesions[1].pixels == b.lesions[1].pixels);
  CHECK(a.image.pixels != c.image.pixels);
}

TEST_CASE("synthetic: realistic lesions are as bright as normal lung; no threshold finds them") {
  double dice_sum = 0;
  const int count = 12;
  for (int k = 0; k < count; ++k) {
    const SyntheticChest c = render_synthetic_chest(256, Difficulty::kRealistic, 1, 500 + static_cast<uint64_t>(k));
    const LesionStats s = stats_of(c, 0);
    CAPTURE(k);
    CAPTURE(s.lesion_mean);
    CAPTURE(s.p5);
    CAPTURE(s.p95);
    REQUIRE(s.area > 0);
    // The lesion's mean grey level lies within the range of the normal lung's (5th..95th percentile).
    CHECK(s.lesion_mean >= s.p5);
    CHECK(s.lesion_mean <= s.p95);
    dice_sum += s.best_threshold_dice;
  }
  // The best single grey-level threshold, chosen per image with the truth in hand, overlaps the lesions
  // poorly (about 0.1 when this test was written; 0.3 leaves room for tuning the anatomy).
  CHECK(dice_sum / count < 0.3);
}

TEST_CASE("synthetic: demo lesions are darker and larger than realistic ones") {
  double realistic_area = 0, demo_area = 0, demo_shift = 0;
  const int count = 10;
  for (int k = 0; k < count; ++k) {
    const uint64_t seed = 900 + static_cast<uint64_t>(k);
    const LesionStats r = stats_of(render_synthetic_chest(256, Difficulty::kRealistic, 1, seed), 0);
    const LesionStats d = stats_of(render_synthetic_chest(256, Difficulty::kDemo, 1, seed), 0);
    realistic_area += static_cast<double>(r.area);
    demo_area += static_cast<double>(d.area);
    demo_shift += d.lesion_mean - d.p50;
  }
  CHECK(demo_area > 1.5 * realistic_area);
  CHECK(demo_shift / count < -10.0);  // grey levels below the normal lung's median, on average
}

TEST_CASE("synthetic: lesions lie inside the lung field, peripheral, one per lung, of widely varying size") {
  int64_t smallest = INT64_MAX, largest = 0;
  for (int k = 0; k < 20; ++k) {
    const int64_t S = 128;
    const SyntheticChest c = render_synthetic_chest(S, Difficulty::kRealistic, 2, 40 + static_cast<uint64_t>(k));
    REQUIRE(c.lesions.size() == 2);
    double centroid_x[2] = {0, 0};
    for (size_t l = 0; l < 2; ++l) {
      int64_t area = 0;
      for (int64_t y = 0; y < S; ++y) {
        for (int64_t x = 0; x < S; ++x) {
          if (!c.lesions[l].at(y, x)) continue;
          CHECK(c.lung_field.at(y, x) == 255);
          CHECK(c.lesions[1 - l].at(y, x) == 0);  // the two lesions never overlap
          ++area;
          centroid_x[l] += static_cast<double>(x);
        }
      }
      REQUIRE(area > 0);
      centroid_x[l] /= static_cast<double>(area);
      smallest = std::min(smallest, area);
      largest = std::max(largest, area);
    }
    // One lesion in each lung: their centroids sit on opposite sides of the midline.
    CHECK((centroid_x[0] - S / 2.0) * (centroid_x[1] - S / 2.0) < 0);
  }
  CHECK(largest > 8 * smallest);
}

TEST_CASE("synthetic: every size from 32 up draws a lesion; bad arguments are refused") {
  for (int64_t S : {32, 64, 200}) {
    const SyntheticChest c = render_synthetic_chest(S, Difficulty::kRealistic, 1, 7);
    CHECK(c.image.height == S);
    CHECK(c.image.width == S);
    CHECK(std::count(c.lesions[0].pixels.begin(), c.lesions[0].pixels.end(), 255) > 0);
    CHECK(std::count(c.lung_field.pixels.begin(), c.lung_field.pixels.end(), 255) > S * S / 8);
  }
  const SyntheticChest none = render_synthetic_chest(64, Difficulty::kDemo, 0, 7);
  CHECK(none.lesions.empty());
  expect_error([] { render_synthetic_chest(16, Difficulty::kDemo, 0, 1); }, {"[synthetic]", "size 16"});
  expect_error([] { render_synthetic_chest(64, Difficulty::kDemo, 3, 1); }, {"[synthetic]", "lesion_count 3"});
  expect_error([] { parse_difficulty("hard"); }, {"unknown difficulty 'hard'"});
}
