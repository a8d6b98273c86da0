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
// most 256, and writes past the table when they do not (fixed in stb 2.28; found by tests/fuzz, input in
// tests/fuzz/regressions/image/).
void check_jpeg_huffman_tables(const std::string& b, size_t at, size_t length, const std::string& path) {
  const size_t end = at + length;
  while (at < end) {
    PLEURA_CHECK(end - at >= 17, path, ": JPEG Huffman table at byte ", at, " is cut short");
    const int klass = static_cast<unsigned char>(b[at]) >> 4, id = static_cast<unsigned char>(b[at]) & 15;
    PLEURA_CHECK(klass <= 1 && id <= 3, path, ": JPEG Huffman table at byte ", at, " has class ", klass, " and id ",
                 id, " (expected 0..1 and 0..3)");
    size_t codes = 0;
    for (int i = 1; i <= 16; ++i) codes += static_cast<unsigned char>(b[at + i]);
    PLEURA_CHECK(codes <= 256, path, ": JPEG Huffman table at byte ", at, " declares ", codes,
                 " codes, at most 256 are possible (a corrupt or malicious file)");
    PLEURA_CHECK(end - at - 17 >= codes, path, ": JPEG Huffman table at byte ", at, " is cut short");
    at += 17 + codes;
  }
}

// Walks a JPEG's markers before stb_image sees the file (its header reader already builds Huffman
// tables): every segment within the file, every Huffman table valid. Entropy-coded data after a start of
// scan is skipped up to the next marker. Anything that does not start like a JPEG is left to stb.
void check_jpeg_segments(const std::string& b, const std::string& path) {
  if (b.size() < 2 || static_cast<unsigned char>(b[0]) != 0xFF || static_cast<unsigned char>(b[1]) != 0xD8) return;
  size_t at = 2;  // after SOI (FF D8)
  while (at < b.size()) {
    PLEURA_CHECK(static_cast<unsigned char>(b[at]) == 0xFF, path, ": JPEG marker expected at byte ", at);
    while (at < b.size() && static_cast<unsigned char>(b[at]) == 0xFF) ++at;  // fill bytes
    if (at >= b.size()) break;
    const int marker = static_cast<unsigned char>(b[at++]);
    if (marker == 0xD9) return;                                              // end of image
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;      // no length
    PLEURA_CHECK(at + 2 <= b.size(), path, ": JPEG segment FF", std::hex, std::uppercase, marker, std::dec, " at byte ", at,
                 " is cut short");
    const size_t length = static_cast<size_t>(be16(b, at));
    PLEURA_CHECK(length >= 2 && at + length <= b.size(), path, ": JPEG segment FF", std::hex, std::uppercase, marker, std::dec,
                 " at byte ", at, " claims ", length, " bytes, the file has ", b.size() - at);
    if (marker == 0xC4) check_jpeg_huffman_tables(b, at + 2, length - 2, path);
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

}  // namespace

bool is_png_or_jpeg_path(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == "png" || ext == "jpg" || ext == "jpeg";
}

void read_image_size(const std::string& path, int64_t& height, int64_t& width) {
  const std::string bytes = read_file(path);
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
  const std::string bytes = read_file(path);
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
