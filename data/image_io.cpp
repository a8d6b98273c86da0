// PNG / JPEG reading and PNG writing for 8-bit grey images (see image_io.h).
#include "data/image_io.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "engine/error.h"
#include "engine/file_io.h"

namespace pleura::data {
namespace {

std::string lower_extension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return ext;
}

struct StbiFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

int be16(const std::string& b, size_t at) {
  return (static_cast<unsigned char>(b[at]) << 8) | static_cast<unsigned char>(b[at + 1]);
}

// The Huffman tables of one DHT segment (`at`: its first byte after the length, `length`: its bytes).
// Debian's stb_image 2.27 builds a table from its 16 code counts without checking that they add up to at
// most 256, and writes past the table when they do not; and it decodes with a table whose code lengths do
// not form a prefix code, reading past its symbols (both fixed in stb 2.28; found by tests/fuzz, inputs in
// tests/fuzz/regressions/image/). The lengths are checked as libjpeg (OpenCV's reader) checks them.
// `defined[class][id]` records each table seen, for check_jpeg_scan_tables.
void check_jpeg_huffman_tables(const std::string& b, size_t at, size_t length, const std::string& path,
                               bool (&defined)[2][4]) {
  const size_t end = at + length;
  while (at < end) {
    PLEURA_CHECK(end - at >= 17, path, ": JPEG Huffman table at byte ", at, " is cut short");
    const int klass = static_cast<unsigned char>(b[at]) >> 4, id = static_cast<unsigned char>(b[at]) & 15;
    PLEURA_CHECK(klass <= 1 && id <= 3, path, ": JPEG Huffman table at byte ", at, " has class ", klass, " and id ",
                 id, " (expected 0..1 and 0..3)");
    size_t codes = 0;
    uint32_t code = 0;  // the next code of the current length (jdhuff.c's jpeg_make_d_derived_tbl)
    for (int bits = 1; bits <= 16; ++bits) {
      const uint32_t count = static_cast<unsigned char>(b[at + bits]);
      codes += count;
      code += count;
      PLEURA_CHECK(count == 0 || code < (1u << bits), path, ": JPEG Huffman table at byte ", at,
                   " has more codes of length ", bits, " than that length allows (a corrupt or malicious file)");
      code <<= 1;
    }
    PLEURA_CHECK(codes <= 256, path, ": JPEG Huffman table at byte ", at, " declares ", codes,
                 " codes, at most 256 are possible (a corrupt or malicious file)");
    PLEURA_CHECK(end - at - 17 >= codes, path, ": JPEG Huffman table at byte ", at, " is cut short");
    defined[klass][id] = true;
    at += 17 + codes;
  }
}

// A start of scan (`at`: its first byte after the length) may only use Huffman tables defined before it:
// stb_image 2.27 decodes with an undefined table's uninitialised memory (found by tests/fuzz). A DC table
// is used by a first DC scan (Ss = 0, Ah = 0, which baseline scans are too), an AC table by any scan with
// Se > 0. A header too short for its components is left to stb, which refuses it.
void check_jpeg_scan_tables(const std::string& b, size_t at, size_t length, const std::string& path,
                            const bool (&defined)[2][4]) {
  if (length < 1) return;
  const size_t components = static_cast<unsigned char>(b[at]);
  if (length < 4 + 2 * components) return;
  const int ss = static_cast<unsigned char>(b[at + 1 + 2 * components]);
  const int se = static_cast<unsigned char>(b[at + 2 + 2 * components]);
  const int ah = static_cast<unsigned char>(b[at + 3 + 2 * components]) >> 4;
  for (size_t k = 0; k < components; ++k) {
    const int tables = static_cast<unsigned char>(b[at + 2 + 2 * k]), dc = tables >> 4, ac = tables & 15;
    PLEURA_CHECK(!(ss == 0 && ah == 0 && dc <= 3 && !defined[0][dc]), path, ": JPEG scan at byte ", at,
                 " uses DC Huffman table ", dc, ", which the file never defines");
    PLEURA_CHECK(!(se > 0 && ac <= 3 && !defined[1][ac]), path, ": JPEG scan at byte ", at, " uses AC Huffman table ",
                 ac, ", which the file never defines");
  }
}

// Walks a JPEG's markers as stb_image does, before it sees the file (its header reader already builds
// Huffman tables): every segment within the file, every Huffman table valid. Like stb, it takes fill bytes
// (FF) before any marker, SOI included, skips stray bytes between segments, and skips the entropy-coded
// data after a start of scan up to the next marker. Anything that does not start like a JPEG is left to
// stb, which refuses it.
void check_jpeg_segments(const std::string& b, const std::string& path) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(b[i]); };
  size_t at = 0;
  while (at < b.size() && byte(at) == 0xFF) ++at;
  if (at < 1 || at >= b.size() || byte(at) != 0xD8) return;
  ++at;  // after SOI
  bool defined[2][4] = {};  // Huffman tables seen so far, by class (DC, AC) and id
  while (at < b.size()) {
    if (byte(at) != 0xFF) {  // a stray byte: stb reads on to the next FF
      ++at;
      continue;
    }
    while (at < b.size() && byte(at) == 0xFF) ++at;  // fill bytes
    if (at >= b.size()) break;
    const int marker = static_cast<unsigned char>(b[at++]);
    if (marker == 0xD9) return;                                              // end of image
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;      // no length
    PLEURA_CHECK(at + 2 <= b.size(), path, ": JPEG segment FF", std::hex, std::uppercase, marker, std::dec, " at byte ", at,
                 " is cut short");
    const size_t length = static_cast<size_t>(be16(b, at));
    PLEURA_CHECK(length >= 2 && at + length <= b.size(), path, ": JPEG segment FF", std::hex, std::uppercase, marker, std::dec,
                 " at byte ", at, " claims ", length, " bytes, the file has ", b.size() - at);
    if (marker == 0xC4) check_jpeg_huffman_tables(b, at + 2, length - 2, path, defined);
    if (marker == 0xDA) check_jpeg_scan_tables(b, at + 2, length - 2, path, defined);
    at += length;
    if (marker == 0xDA) {  // entropy-coded data: up to a marker other than a stuffed 00 or a restart
      while (at + 1 < b.size() && !(static_cast<unsigned char>(b[at]) == 0xFF && b[at + 1] != 0 &&
                                    !(static_cast<unsigned char>(b[at + 1]) >= 0xD0 &&
                                      static_cast<unsigned char>(b[at + 1]) <= 0xD7))) {
        ++at;
      }
      if (at + 1 >= b.size()) return;  // no end marker: stb decides what a cut scan gives
    }
  }
}

// A PNG without its empty IDAT chunks (legal, and meaningless: the image data is the concatenation of the
// IDATs). stb_image 2.27 hands an empty first IDAT to memcpy with a null destination, undefined behaviour
// that UBSan caught in tests/fuzz (regression input in tests/fuzz/regressions/image/). stb does not check
// chunk CRCs, so dropping whole chunks is safe. A chunk running past the file ends the walk: stb refuses it.
std::string without_empty_idat(std::string bytes) {
  if (bytes.size() < 8 || std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) != 0) return bytes;
  size_t at = 8;
  while (at + 12 <= bytes.size()) {
    const uint32_t length = (static_cast<uint32_t>(be16(bytes, at)) << 16) | static_cast<uint32_t>(be16(bytes, at + 2));
    if (length > bytes.size() - at - 12) break;
    if (length == 0 && bytes.compare(at + 4, 4, "IDAT") == 0) {
      bytes.erase(at, 12);
      continue;
    }
    if (bytes.compare(at + 4, 4, "IEND") == 0) break;
    at += 12 + length;
  }
  return bytes;
}

}  // namespace

bool is_png_or_jpeg_path(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == "png" || ext == "jpg" || ext == "jpeg";
}

void read_image_size(const std::string& path, int64_t& height, int64_t& width) {
  const std::string bytes = without_empty_idat(read_file(path));
  int w = 0, h = 0, comp = 0;
  PLEURA_CHECK(bytes.size() <= 0x7fffffff, path, ": file too large (", bytes.size(), " bytes)");
  check_jpeg_segments(bytes, path);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  PLEURA_CHECK(stbi_info_from_memory(data, static_cast<int>(bytes.size()), &w, &h, &comp), path,
               ": not a readable PNG or JPEG (", stbi_failure_reason(), ")");
  height = h;
  width = w;
}

GrayImage read_image_gray(const std::string& path) {
  const std::string bytes = without_empty_idat(read_file(path));
  PLEURA_CHECK(bytes.size() <= 0x7fffffff, path, ": file too large (", bytes.size(), " bytes)");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  check_jpeg_segments(bytes, path);
  int w = 0, h = 0, comp = 0;
  // Header first: the size cap is enforced before stb allocates or decodes anything.
  PLEURA_CHECK(stbi_info_from_memory(data, size, &w, &h, &comp), path, ": not a readable PNG or JPEG (",
               stbi_failure_reason(), ")");
  PLEURA_CHECK(w >= 1 && h >= 1 && w <= kMaxImageSide && h <= kMaxImageSide, path, ": image is ", w, "x",
               h, " (width x height); each side must be 1..", kMaxImageSide);
  const bool is_png = bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0;
  // JPEG: ask stb for one channel, which is the decoded luma plane (no RGB round trip), as libjpeg's
  // JCS_GRAYSCALE output that OpenCV reads. PNG: native channels, converted below as libpng would.
  const int wanted = is_png ? 0 : 1;
  int n = 0;
  std::unique_ptr<stbi_uc, StbiFree> pixels(stbi_load_from_memory(data, size, &w, &h, &n, wanted));
  PLEURA_CHECK(pixels != nullptr, path, ": cannot decode (", stbi_failure_reason(), ")");
  const int channels = wanted ? wanted : n;
  GrayImage out(h, w);
  const stbi_uc* p = pixels.get();
  const size_t count = static_cast<size_t>(w) * static_cast<size_t>(h);
  if (channels <= 2) {  // grey or grey + alpha (alpha dropped)
    for (size_t i = 0; i < count; ++i) out.pixels[i] = p[i * static_cast<size_t>(channels)];
  } else {  // RGB or RGBA (alpha dropped): libpng's truncating 15-bit rgb_to_gray
    constexpr uint32_t kRed = 9797, kGreen = 19234, kBlue = 32768 - kRed - kGreen;
    for (size_t i = 0; i < count; ++i) {
      const stbi_uc* px = p + i * static_cast<size_t>(channels);
      const uint32_t r = px[0], g = px[1], b = px[2];
      out.pixels[i] = (r == g && r == b) ? static_cast<uint8_t>(r)
                                         : static_cast<uint8_t>((kRed * r + kGreen * g + kBlue * b) >> 15);
    }
  }
  return out;
}

void write_png_gray(const std::string& path, const GrayImage& image) {
  PLEURA_CHECK(image.height >= 1 && image.width >= 1 && image.height <= kMaxImageSide &&
                   image.width <= kMaxImageSide,
               "[write_png_gray] ", path, ": image is ", image.height, "x", image.width,
               " (H x W); each side must be 1..", kMaxImageSide);
  PLEURA_CHECK(static_cast<int64_t>(image.pixels.size()) == image.height * image.width,
               "[write_png_gray] ", path, ": pixel buffer holds ", image.pixels.size(), " bytes, expected ",
               image.height * image.width);
  std::string encoded;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  const int ok = stbi_write_png_to_func(append, &encoded, static_cast<int>(image.width),
                                        static_cast<int>(image.height), 1, image.pixels.data(),
                                        static_cast<int>(image.width));
  PLEURA_CHECK(ok != 0, "[write_png_gray] ", path, ": PNG encoding failed");
  write_file_atomic(path, encoded);
}

}  // namespace pleura::data
