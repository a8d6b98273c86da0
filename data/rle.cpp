// RLE encoding and decoding of column-major binary masks (see rle.h).
#include "data/rle.h"

#include "engine/error.h"
#include "data/csv.h"

namespace pleura::data {
namespace {

// Largest value any start or length may take: the pixel count of a 16384 x 16384 image.
constexpr int64_t kMaxRleValue = int64_t{16384} * 16384;

}  // namespace

RleFormat parse_rle_format(std::string_view name) {
  std::string n = to_lower(name);
  if (n == "siim" || n == "relative") return RleFormat::kSiimRelative;
  if (n == "absolute" || n == "standard") return RleFormat::kAbsolute;
  throw_error(cat("unknown RLE format '", name, "' (expected 'relative' or 'absolute')"));
}

const char* rle_format_name(RleFormat format) {
  return format == RleFormat::kSiimRelative ? "relative" : "absolute";
}

std::string encode_rle(const GrayImage& mask, RleFormat format) {
  const int64_t H = mask.height, W = mask.width, n = H * W;
  PLEURA_CHECK(static_cast<int64_t>(mask.pixels.size()) == n, "[encode_rle] mask holds ",
               mask.pixels.size(), " bytes, expected H*W = ", H, "*", W);
  std::string out;
  int64_t previous_end = 0;  // index one past the previous run (relative form)
  int64_t run_start = -1;
  auto close_run = [&](int64_t end) {
    const int64_t start = format == RleFormat::kSiimRelative ? run_start - previous_end : run_start + 1;
    if (!out.empty()) out += ' ';
    out += std::to_string(start);
    out += ' ';
    out += std::to_string(end - run_start);
    previous_end = end;
    run_start = -1;
  };
  for (int64_t x = 0; x < W; ++x) {
    for (int64_t y = 0; y < H; ++y) {
      const bool on = mask.pixels[static_cast<size_t>(y * W + x)] != 0;
      if (on && run_start < 0) run_start = x * H + y;
      if (!on && run_start >= 0) close_run(x * H + y);
    }
  }
  if (run_start >= 0) close_run(n);  // a run reaching the last pixel is written (the reference lost it)
  return out.empty() ? std::string("-1") : out;
}

std::vector<int64_t> parse_rle(std::string_view rle, RleFormat format, const std::string& where) {
  std::string_view text = trim(rle);
  std::vector<int64_t> numbers;
  if (text == "-1") return numbers;
  PLEURA_CHECK(!text.empty(), where, ": empty RLE (an empty mask is written -1)");
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (pos >= text.size()) break;
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t') ++end;
    std::string_view token = text.substr(pos, end - pos);
    int64_t value = 0;
    if (!parse_nonnegative(token, kMaxRleValue, value)) {
      PLEURA_CHECK(token.front() != '-', where, ": negative number '", token, "' in RLE (number ",
                   numbers.size() + 1, ")");
      throw_error(cat(where, ": '", token, "' is not a non-negative integer below ", kMaxRleValue + 1,
                      " (number ", numbers.size() + 1, " of the RLE)"));
    }
    numbers.push_back(value);
    pos = end;
  }
  PLEURA_CHECK(numbers.size() % 2 == 0, where, ": RLE has an odd count of numbers (", numbers.size(),
               "); it must be start/length pairs");
  for (size_t k = 0; k < numbers.size(); k += 2) {
    PLEURA_CHECK(numbers[k + 1] > 0, where, ": run ", k / 2 + 1, " has length 0");
    PLEURA_CHECK(format != RleFormat::kAbsolute || numbers[k] > 0, where, ": run ", k / 2 + 1,
                 " starts at 0, but absolute RLE starts are 1-based");
  }
  return numbers;
}

void paint_rle(const std::vector<int64_t>& numbers, RleFormat format, GrayImage& mask,
               const std::string& where) {
  const int64_t H = mask.height, W = mask.width, n = H * W;
  PLEURA_CHECK(static_cast<int64_t>(mask.pixels.size()) == n && n > 0, where,
               ": mask buffer does not match its size ", H, "x", W);
  int64_t cursor = 0;  // relative form: one past the end of the previous run
  for (size_t k = 0; k + 1 < numbers.size(); k += 2) {
    const int64_t start = format == RleFormat::kSiimRelative ? cursor + numbers[k] : numbers[k] - 1;
    const int64_t end = start + numbers[k + 1];
    PLEURA_CHECK(end <= n, where, ": run ", k / 2 + 1, " covers pixels ", start, "..", end - 1,
                 " (0-based, column-major) but a ", H, "x", W, " image has only ", n, " pixels");
    for (int64_t i = start; i < end; ++i) {
      mask.pixels[static_cast<size_t>((i % H) * W + i / H)] = 255;
    }
    cursor = end;
  }
}

GrayImage decode_rle(std::string_view rle, int64_t height, int64_t width, RleFormat format,
                     const std::string& where) {
  PLEURA_CHECK(height > 0 && width > 0, where, ": mask size ", height, "x", width, " must be positive");
  GrayImage mask(height, width, 0);
  paint_rle(parse_rle(rle, format, where), format, mask, where);
  return mask;
}

}  // namespace pleura::data
