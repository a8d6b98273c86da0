// A 5x7 bitmap font, built in, for the captions of the review overlays (eval/overlay.h): digits, capital
// letters (lower case is drawn as upper case), '.', '-', '_', ':', '=', ' ', and '?' for any other
// character. Implementation in eval/bitmap_font.cpp; tests in tests/eval/test_overlay.cpp.
#pragma once

#include <array>
#include <cstdint>

namespace pleura::eval {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;
inline constexpr int kGlyphAdvance = kGlyphWidth + 1;  // one blank column between characters
inline constexpr int kLineAdvance = kGlyphHeight + 2;  // two blank rows between lines

// The 7 rows of a glyph, top to bottom; bit 4 of a row is its leftmost column.
using Glyph = std::array<uint8_t, kGlyphHeight>;

// True when `c` has its own glyph (a letter of either case, a digit, or one of ". - _ : = ?" and space).
bool has_glyph(char c);
// The glyph of `c` ('?' for a character without one).
const Glyph& glyph(char c);

}  // namespace pleura::eval
