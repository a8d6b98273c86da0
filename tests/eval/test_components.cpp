// Tests of eval/components.h: 8-connected labelling worked by hand, removal of small components,
// and random masks checked against an independent labelling (repeated min-label propagation).
#include <algorithm>
#include <map>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "eval/components.h"

using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

namespace {

GrayImage from_rows(const std::vector<std::string>& rows) {
  GrayImage m(static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size()), 0);
  for (size_t y = 0; y < rows.size(); ++y)
    for (size_t x = 0; x < rows[y].size(); ++x) m.at(y, x) = rows[y][x] == '#' ? 255 : 0;
  return m;
}

// Independent labelling: every on pixel starts with its own index, then takes the smallest index among
// its 8 neighbours until nothing changes; returns the size of each pixel's component.
std::vector<int64_t> naive_component_sizes(const GrayImage& m) {
  const int64_t H = m.height, W = m.width;
  std::vector<int64_t> label(static_cast<size_t>(H * W), -1);
  for (int64_t i = 0; i < H * W; ++i) if (m.pixels[i]) label[i] = i;
  for (bool changed = true; changed;) {
    changed = false;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        int64_t& l = label[y * W + x];
        if (l < 0) continue;
        for (int64_t dy = -1; dy <= 1; ++dy)
          for (int64_t dx = -1; dx <= 1; ++dx) {
            const int64_t ny = y + dy, nx = x + dx;
            if (ny < 0 || nx < 0 || ny >= H || nx >= W) continue;
            const int64_t o = label[ny * W + nx];
            if (o >= 0 && o < l) l = o, changed = true;
          }
      }
  }
  std::map<int64_t, int64_t> count;
  for (int64_t l : label) if (l >= 0) ++count[l];
  std::vector<int64_t> sizes(label.size(), 0);
  for (size_t i = 0; i < label.size(); ++i) if (label[i] >= 0) sizes[i] = count[label[i]];
  return sizes;
}

}  // namespace

TEST_CASE("components: 8-connected labels and removal, worked by hand") {
  GrayImage m = from_rows({
      "#.....",  // a lone pixel at (0,0): component 1, 1 pixel
      "...#..",  // (1,3) and (2,4) touch diagonally: component 2, 2 pixels
      "....#.",
      ".#....",  // an L of 4 pixels: component 3
      ".#....",
      ".##...",
  });
  std::vector<int32_t> labels;
  std::vector<int64_t> sizes;
  CHECK(label_components(m, labels, &sizes) == 3);
  CHECK(sizes == std::vector<int64_t>{1, 2, 4});
  CHECK(labels[0] == 1);
  CHECK(labels[1 * 6 + 3] == 2);
  CHECK(labels[2 * 6 + 4] == 2);
  CHECK(labels[5 * 6 + 2] == 3);
  CHECK(labels[1] == 0);

  GrayImage kept = m;
  CHECK(remove_small_components(kept, 1) == 0);  // nothing is under 1 pixel
  CHECK(kept.pixels == m.pixels);
  CHECK(remove_small_components(kept, 2) == 1);  // the lone pixel
  CHECK(kept.pixels == from_rows({"......", "...#..", "....#.", ".#....", ".#....", ".##..."}).pixels);
  CHECK(remove_small_components(kept, 4) == 1);  // the diagonal pair; the L has exactly 4 and stays
  CHECK(kept.pixels == from_rows({"......", "......", "......", ".#....", ".#....", ".##..."}).pixels);
  CHECK(remove_small_components(kept, 5) == 1);
  CHECK(std::count(kept.pixels.begin(), kept.pixels.end(), 0) == 36);
}

TEST_CASE("components: random masks against an independent labelling") {
  for (uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    GrayImage m = random_gray(23, 31, seed);
    for (uint8_t& v : m.pixels) v = v < 90 ? 255 : 0;  // about 35% on: many components of many sizes
    const std::vector<int64_t> sizes = naive_component_sizes(m);
    std::vector<int32_t> labels;
    std::vector<int64_t> found;
    label_components(m, labels, &found);
    for (size_t i = 0; i < labels.size(); ++i) {
      if (m.pixels[i]) CHECK(found[labels[i] - 1] == sizes[i]);
    }
    for (int64_t n : {2, 3, 5, 20}) {
      GrayImage r = m;
      remove_small_components(r, n);
      for (size_t i = 0; i < m.pixels.size(); ++i) {
        CHECK(r.pixels[i] == (m.pixels[i] && sizes[i] >= n ? 255 : 0));
      }
    }
  }
}
