// Tests of eval/overlay.h, eval/bitmap_font.h and eval/review.h's write_overlay: outlines worked by hand,
// an overlay written as PNG and decoded back with every pixel checked (predicted and truth outlines, the
// X-ray elsewhere, the caption's first glyph), captions, the per-image dice, and bad input.
#include <cmath>
#include <filesystem>
#include <set>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "data/image_io.h"
#include "eval/bitmap_font.h"
#include "eval/overlay.h"
#include "eval/review.h"

using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

namespace {

// A mask of `h` x `w` with the rectangle rows [y0, y1], columns [x0, x1] on.
GrayImage rect_mask(int64_t h, int64_t w, int64_t y0, int64_t x0, int64_t y1, int64_t x1) {
  GrayImage m(h, w, 0);
  for (int64_t y = y0; y <= y1; ++y)
    for (int64_t x = x0; x <= x1; ++x) m.at(y, x) = 255;
  return m;
}

bool on_rect_border(int64_t y, int64_t x, int64_t y0, int64_t x0, int64_t y1, int64_t x1) {
  const bool inside = y >= y0 && y <= y1 && x >= x0 && x <= x1;
  return inside && (y == y0 || y == y1 || x == x0 || x == x1);
}

}  // namespace

TEST_CASE("overlay: the outline of a mask, worked by hand") {
  // 6 x 7, rectangle rows 1..4, columns 2..5: its border is the outline, rows 2..3 x columns 3..4 are not.
  const GrayImage edge = mask_outline(rect_mask(6, 7, 1, 2, 4, 5));
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < 7; ++x) {
      CAPTURE(y);
      CAPTURE(x);
      CHECK((edge.at(y, x) == 255) == on_rect_border(y, x, 1, 2, 4, 5));
    }
  // The image's border closes a mask that touches it; a full mask is outlined along the image's border.
  const GrayImage full = mask_outline(GrayImage(3, 3, 255));
  CHECK(full.pixels == std::vector<uint8_t>{255, 255, 255, 255, 0, 255, 255, 255, 255});
  // One-pixel-wide shapes are all outline; an empty mask has none.
  CHECK(mask_outline(rect_mask(3, 5, 1, 0, 1, 4)).pixels == rect_mask(3, 5, 1, 0, 1, 4).pixels);
  CHECK(mask_outline(GrayImage(4, 4, 0)).pixels == GrayImage(4, 4, 0).pixels);
}

TEST_CASE("overlay: the font has distinct glyphs; lower case is upper case, unknown characters are '?'") {
  const std::string chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-_:=?";
  std::set<Glyph> seen;
  for (char c : chars) {
    CAPTURE(c);
    CHECK(has_glyph(c));
    CHECK(seen.insert(glyph(c)).second);
    for (uint8_t row : glyph(c)) CHECK(row < (1 << kGlyphWidth));
  }
  CHECK(glyph('q') == glyph('Q'));
  CHECK_FALSE(has_glyph('#'));
  CHECK(glyph('#') == glyph('?'));
  CHECK(glyph(' ') == Glyph{});
}

TEST_CASE("overlay: draw_text sets exactly the glyph's pixels, clipped at the image's edge") {
  RgbImage image(9, 8, {1, 2, 3});
  draw_text(image, 1, 2, "7", {9, 9, 9});
  const Glyph& seven = glyph('7');
  for (int64_t y = 0; y < 9; ++y)
    for (int64_t x = 0; x < 8; ++x) {
      const bool bit = y >= 1 && y < 8 && x >= 2 && x < 7 && ((seven[size_t(y - 1)] >> (4 - (x - 2))) & 1);
      CHECK(image.at(y, x) == (bit ? Rgb{9, 9, 9} : Rgb{1, 2, 3}));
    }
  RgbImage small(3, 3);
  draw_text(small, -2, -2, "88", {255, 255, 255});  // mostly outside: no throw, some pixels drawn
  int lit = 0;
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 3; ++x) lit += small.at(y, x) == Rgb{255, 255, 255};
  CHECK(lit > 0);
}

TEST_CASE("overlay: captions wrap the id to the width and give P, DICE and the class") {
  // 64 pixels: (64 - 4 + 1) / 6 = 10 characters a line.
  std::vector<std::string> lines = caption_lines({"abcdefghijklmnop", 0.93449, 0.5, "TP"}, 64);
  CHECK(lines == std::vector<std::string>{"abcdefghij", "klmnop", "P 0.934 DI", "CE 0.500 T", "P"});
  lines = caption_lines({"id_1", 0.25, std::nullopt, "POS"}, 200);
  CHECK(lines == std::vector<std::string>{"id_1", "P 0.250 POS"});
  lines = caption_lines({"x", std::nullopt, 1.0, "TN"}, 200);
  CHECK(lines == std::vector<std::string>{"x", "DICE 1.000 TN"});
  CHECK(wrap_text("", 3).empty());
  CHECK(caption_band_height(2) == 4 + 18);
}

TEST_CASE("overlay: written as PNG and decoded back, every pixel is where it belongs") {
  TempDir dir;
  const int64_t H = 23, W = 31;
  const GrayImage xray = random_gray(H, W, 7, 20, 200);  // seed 7; never the outline colours (grey)
  const GrayImage predicted = rect_mask(H, W, 3, 4, 12, 20);
  const GrayImage truth = rect_mask(H, W, 8, 10, 18, 27);  // crosses the prediction's outline
  const std::vector<std::string> caption = {"ab7", "P 0.500"};
  data::write_png_rgb(dir.file("o.png"), render_overlay(xray, predicted, &truth, caption));
  const RgbImage back = data::read_png_rgb(dir.file("o.png"));
  const int64_t band = caption_band_height(2);
  REQUIRE(back.height == band + H);
  REQUIRE(back.width == W);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      CAPTURE(y);
      CAPTURE(x);
      const uint8_t v = xray.at(y, x);
      Rgb want{v, v, v};
      if (on_rect_border(y, x, 8, 10, 18, 27)) want = kTruthColour;
      if (on_rect_border(y, x, 3, 4, 12, 20)) want = kPredictedColour;  // drawn over the truth
      CHECK(back.at(band + y, x) == want);
    }
  // The band: background, and the caption's first glyph ('A') exactly at the top-left margin.
  const Glyph& a = glyph('a');
  int text_pixels = 0;
  for (int64_t y = 0; y < band; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const Rgb c = back.at(y, x);
      CHECK((c == kCaptionBackground || c == kCaptionColour));
      text_pixels += c == kCaptionColour;
      const int64_t gy = y - kCaptionMargin, gx = x - kCaptionMargin;
      if (gy >= 0 && gy < kGlyphHeight && gx >= 0 && gx < kGlyphWidth)
        CHECK((c == kCaptionColour) == bool((a[size_t(gy)] >> (4 - gx)) & 1));
    }
  CHECK(text_pixels > 20);
}

TEST_CASE("overlay: without a truth only the predicted outline is drawn") {
  const GrayImage xray(10, 10, 100), predicted = rect_mask(10, 10, 2, 2, 6, 6);
  const RgbImage out = render_overlay(xray, predicted, nullptr, {});
  REQUIRE(out.height == caption_band_height(0) + 10);
  int red = 0, green = 0;
  for (int64_t y = 0; y < out.height; ++y)
    for (int64_t x = 0; x < out.width; ++x) {
      red += out.at(y, x) == kPredictedColour;
      green += out.at(y, x) == kTruthColour;
    }
  CHECK(red == 16);  // the border of a 5x5 square
  CHECK(green == 0);
}

TEST_CASE("overlay: bad input names both sizes") {
  const GrayImage xray(4, 4, 0);
  expect_error([&] { render_overlay(xray, GrayImage(4, 5, 0), nullptr, {}); },
               {"render_overlay", "predicted mask is 4x5", "X-ray is 4x4"});
  const GrayImage truth(3, 4, 0);
  expect_error([&] { render_overlay(xray, xray, &truth, {}); }, {"truth mask is 3x4"});
  expect_error([&] { render_overlay(GrayImage(), GrayImage(), nullptr, {}); }, {"X-ray is 0x0"});
  expect_error([&] { mask_dice(GrayImage(2, 2), GrayImage(2, 3)); }, {"mask_dice", "2x2", "2x3"});
}

TEST_CASE("overlay: per-image dice and classes of write_overlay") {
  TempDir dir;
  // 4 predicted pixels, 4 true, 2 shared: 2 * 2 / 8.
  CHECK(std::fabs(mask_dice(rect_mask(4, 4, 0, 0, 1, 1), rect_mask(4, 4, 0, 1, 1, 2)) - 0.5) < 1e-6);
  const GrayImage xray(8, 8, 50), empty(8, 8, 0), blob = rect_mask(8, 8, 2, 2, 4, 4);
  struct Case {
    const char* id;
    GrayImage predicted, truth;
    ReviewClass want;
    double dice;
  };
  const Case cases[] = {{"fp", blob, empty, ReviewClass::kFalsePositive, 0.0},
                        {"fn", empty, blob, ReviewClass::kFalseNegative, 0.0},
                        {"tp", blob, blob, ReviewClass::kTruePositive, 1.0},
                        {"tn", empty, empty, ReviewClass::kTrueNegative, 1.0}};
  for (const Case& c : cases) {
    CAPTURE(c.id);
    const ReviewEntry e = write_overlay(dir.path(), {c.id, xray, c.predicted, c.truth, 0.7});
    CHECK(e.review_class == c.want);
    REQUIRE(e.dice.has_value());
    CHECK(std::fabs(*e.dice - c.dice) < 1e-6);  // image_dice's eps: 1e-6 / (9 + 1e-6) for one empty mask
    CHECK(e.file == std::string(c.id) + ".png");
    CHECK(std::filesystem::is_regular_file(dir.file(e.file)));
  }
  const ReviewEntry none = write_overlay(dir.path(), {"nt", xray, blob, std::nullopt, 0.7});
  CHECK(none.review_class == ReviewClass::kPositive);
  CHECK_FALSE(none.dice.has_value());
}
