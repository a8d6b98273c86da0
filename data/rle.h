// Run-length encoding of binary masks, both forms used by the SIIM-ACR challenge. Masks are read in
// column-major order: pixel (y, x) of an H x W mask has index x*H + y.
//  - kSiimRelative (stage 1 labels, the reference's submissions): pairs (start, length); the first
//    start is absolute and 0-based, each later start counts the pixels skipped since the end of the
//    previous run.
//  - kAbsolute (the standard Kaggle form, stage 2): pairs (start, length), starts absolute and 1-based.
// An empty mask is "-1". Pleura writes a run that reaches the very last pixel (the reference's encoder
// silently dropped it). Label files: rle_csv.h. Tests: tests/data/test_rle.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/image.h"

namespace pleura::data {

enum class RleFormat { kSiimRelative, kAbsolute };

// "siim" / "relative" -> kSiimRelative, "absolute" / "standard" -> kAbsolute; throws otherwise.
RleFormat parse_rle_format(std::string_view name);
const char* rle_format_name(RleFormat format);

// Encodes a mask (any nonzero pixel is "on") as space-separated numbers, or "-1" when it is empty.
std::string encode_rle(const GrayImage& mask, RleFormat format);

// Parses the numbers of an RLE string ("-1" or " -1" give an empty list). Throws, with `where`
// (e.g. "labels.csv:12") leading the message, on a non-number, a negative number, an odd count, a
// zero length, a 0 start in the 1-based form, or numbers too large to index a 16384x16384 image.
std::vector<int64_t> parse_rle(std::string_view rle, RleFormat format, const std::string& where);

// Sets to 255 the pixels of `mask` (H x W, already sized) covered by the runs (OR: pixels already set
// stay set). Throws, naming `where`, when a run goes past the last pixel.
void paint_rle(const std::vector<int64_t>& numbers, RleFormat format, GrayImage& mask,
               const std::string& where);

// parse_rle + paint_rle into a new H x W mask of 0/255.
GrayImage decode_rle(std::string_view rle, int64_t height, int64_t width, RleFormat format,
                     const std::string& where = "rle");

}  // namespace pleura::data
