// Review overlays: an X-ray with the outline of the predicted mask (after the thresholds) and, when known,
// the outline of the truth in a second colour, under a caption band (image id, probability, dice, class)
// drawn with the built-in 5x7 font (eval/bitmap_font.h). The page of thumbnails is eval/review_page.h, the
// tools' driver eval/review.h. Tests: tests/eval/test_overlay.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/image.h"
#include "data/rgb_image.h"

namespace pleura::eval {

inline constexpr Rgb kPredictedColour{255, 40, 40};  // red: outline of the predicted mask
inline constexpr Rgb kTruthColour{40, 220, 40};      // green: outline of the truth
inline constexpr Rgb kCaptionColour{255, 255, 0};    // yellow caption text
inline constexpr Rgb kCaptionBackground{0, 0, 0};    // the caption band
inline constexpr int64_t kCaptionMargin = 2;         // pixels around the caption's text

// The inner outline of a mask (non-zero = on): 255 at every on pixel that has a 4-neighbour which is off
// or outside the image, 0 elsewhere. An empty mask has no outline; a one-pixel-wide mask is all outline.
GrayImage mask_outline(const GrayImage& mask);

// Draws one line of text in the 5x7 font with the top-left of its first glyph at (top, left), one glyph
// every kGlyphAdvance columns; only glyph pixels are set, and pixels outside the image are skipped.
void draw_text(RgbImage& image, int64_t top, int64_t left, std::string_view text, Rgb colour);

// `text` cut into lines of at most max_chars (>= 1) characters; no line for an empty text.
std::vector<std::string> wrap_text(std::string_view text, size_t max_chars);

// Rows of the caption band holding `lines` lines: 2 * kCaptionMargin + lines * kLineAdvance.
int64_t caption_band_height(size_t lines);

struct OverlayCaption {
  std::string image_id;
  std::optional<double> probability;  // the image's maximum probability, when maps were read
  std::optional<double> dice;         // the per-image dice, when a truth is known
  std::string label;                  // the review class (FP, FN, TP, TN, POS, NEG)
};

// The caption's lines for an overlay `width` pixels wide: the ImageId (wrapped), then "P 0.934 DICE 0.812 FP"
// (P and DICE only when known; 3 decimals).
std::vector<std::string> caption_lines(const OverlayCaption& caption, int64_t width);

// The overlay, (caption_band_height(caption.size()) + H) x W: the caption band (kCaptionBackground, text in
// kCaptionColour from (kCaptionMargin, kCaptionMargin)), then the X-ray in grey with the truth's outline
// (kTruthColour) and, drawn over it, the predicted outline (kPredictedColour). xray, predicted and truth
// (when given) must have the same size, else a pleura::Error naming both sizes.
RgbImage render_overlay(const GrayImage& xray, const GrayImage& predicted, const GrayImage* truth,
                        const std::vector<std::string>& caption);

}  // namespace pleura::eval
