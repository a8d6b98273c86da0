// Review overlays (see overlay.h).
#include "eval/overlay.h"

#include <algorithm>
#include <cstdio>

#include "engine/error.h"
#include "eval/bitmap_font.h"

namespace pleura::eval {
namespace {

bool is_on(const GrayImage& m, int64_t y, int64_t x) {
  return y >= 0 && x >= 0 && y < m.height && x < m.width && m.at(y, x) != 0;
}

void check_same_size(const GrayImage& xray, const GrayImage& mask, const char* what) {
  PLEURA_CHECK(mask.height == xray.height && mask.width == xray.width, "[render_overlay] the ", what, " mask is ",
               mask.height, "x", mask.width, " but the X-ray is ", xray.height, "x", xray.width,
               " (H x W); they must have the same size");
}

void paint_outline(RgbImage& image, int64_t top, const GrayImage& mask, Rgb colour) {
  const GrayImage edge = mask_outline(mask);
  for (int64_t y = 0; y < edge.height; ++y)
    for (int64_t x = 0; x < edge.width; ++x)
      if (edge.at(y, x)) image.set(top + y, x, colour);
}

std::string fixed3(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", v);
  return text;
}

}  // namespace

GrayImage mask_outline(const GrayImage& mask) {
  GrayImage edge(mask.height, mask.width, 0);
  for (int64_t y = 0; y < mask.height; ++y)
    for (int64_t x = 0; x < mask.width; ++x)
      if (mask.at(y, x) && !(is_on(mask, y - 1, x) && is_on(mask, y + 1, x) && is_on(mask, y, x - 1) &&
                             is_on(mask, y, x + 1)))
        edge.at(y, x) = 255;
  return edge;
}

void draw_text(RgbImage& image, int64_t top, int64_t left, std::string_view text, Rgb colour) {
  for (size_t k = 0; k < text.size(); ++k) {
    const Glyph& g = glyph(text[k]);
    const int64_t x0 = left + static_cast<int64_t>(k) * kGlyphAdvance;
    for (int64_t row = 0; row < kGlyphHeight; ++row)
      for (int64_t col = 0; col < kGlyphWidth; ++col) {
        const int64_t y = top + row, x = x0 + col;
        const bool bit = (g[static_cast<size_t>(row)] >> (kGlyphWidth - 1 - col)) & 1;
        if (bit && y >= 0 && x >= 0 && y < image.height && x < image.width) image.set(y, x, colour);
      }
  }
}

std::vector<std::string> wrap_text(std::string_view text, size_t max_chars) {
  PLEURA_CHECK(max_chars >= 1, "[wrap_text] max_chars must be at least 1");
  std::vector<std::string> lines;
  for (size_t at = 0; at < text.size(); at += max_chars) lines.emplace_back(text.substr(at, max_chars));
  return lines;
}

int64_t caption_band_height(size_t lines) { return 2 * kCaptionMargin + static_cast<int64_t>(lines) * kLineAdvance; }

std::vector<std::string> caption_lines(const OverlayCaption& c, int64_t width) {
  const int64_t fit = (width - 2 * kCaptionMargin + 1) / kGlyphAdvance;  // the last glyph needs no gap
  std::vector<std::string> lines = wrap_text(c.image_id, static_cast<size_t>(std::max<int64_t>(fit, 1)));
  std::vector<std::string> parts;
  if (c.probability) parts.push_back("P " + fixed3(*c.probability));
  if (c.dice) parts.push_back("DICE " + fixed3(*c.dice));
  if (!c.label.empty()) parts.push_back(c.label);
  std::string scores;
  for (const std::string& part : parts) scores.append(scores.empty() ? "" : " ").append(part);
  for (std::string& line : wrap_text(scores, static_cast<size_t>(std::max<int64_t>(fit, 1))))
    lines.push_back(std::move(line));
  return lines;
}

RgbImage render_overlay(const GrayImage& xray, const GrayImage& predicted, const GrayImage* truth,
                        const std::vector<std::string>& caption) {
  PLEURA_CHECK(xray.height >= 1 && xray.width >= 1 &&
                   static_cast<int64_t>(xray.pixels.size()) == xray.height * xray.width,
               "[render_overlay] the X-ray is ", xray.height, "x", xray.width, " with ", xray.pixels.size(),
               " pixels; expected a non-empty image");
  check_same_size(xray, predicted, "predicted");
  if (truth) check_same_size(xray, *truth, "truth");
  const int64_t band = caption_band_height(caption.size());
  RgbImage out(band + xray.height, xray.width, kCaptionBackground);
  for (int64_t y = 0; y < xray.height; ++y)
    for (int64_t x = 0; x < xray.width; ++x) {
      const uint8_t v = xray.at(y, x);
      out.set(band + y, x, {v, v, v});
    }
  if (truth) paint_outline(out, band, *truth, kTruthColour);
  paint_outline(out, band, predicted, kPredictedColour);
  for (size_t k = 0; k < caption.size(); ++k)
    draw_text(out, kCaptionMargin + static_cast<int64_t>(k) * kLineAdvance, kCaptionMargin, caption[k],
              kCaptionColour);
  return out;
}

}  // namespace pleura::eval
