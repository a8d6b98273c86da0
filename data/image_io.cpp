// PNG / JPEG reading and PNG writing for 8-bit grey images, and RGB PNGs for the review overlays (see image_io.h).
#include "data/image_io.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "engine/error.h"
#include "engine/file_io.h"
#include "data/jpeg_read.h"

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
  if (detail::looks_like_jpeg(bytes)) {
    detail::jpeg_size(bytes, path, height, width);
    return;
  }
  int w = 0, h = 0, comp = 0;
  PLEURA_CHECK(bytes.size() <= 0x7fffffff, path, ": file too large (", bytes.size(), " bytes)");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  PLEURA_CHECK(stbi_info_from_memory(data, static_cast<int>(bytes.size()), &w, &h, &comp), path,
               ": not a readable PNG or JPEG (", stbi_failure_reason(), ")");
  height = h;
  width = w;
}

namespace {

void check_side(const std::string& path, int64_t height, int64_t width) {
  PLEURA_CHECK(width >= 1 && height >= 1 && width <= kMaxImageSide && height <= kMaxImageSide, path, ": image is ",
               width, "x", height, " (width x height); each side must be 1..", kMaxImageSide);
}

// JPEG through libjpeg-turbo (data/jpeg_read.h): its luma plane, as OpenCV's grey read gives it.
GrayImage read_jpeg_gray(const std::string& bytes, const std::string& path) {
  int64_t height = 0, width = 0;
  detail::jpeg_size(bytes, path, height, width);
  check_side(path, height, width);  // before anything is allocated or decoded
  GrayImage out;
  out.height = height;
  out.width = width;
  out.pixels = detail::decode_jpeg_gray(bytes, path, height, width);
  return out;
}

// PNG through stb_image, in its native channels, converted to grey as libpng would.
GrayImage read_png_gray(const std::string& bytes, const std::string& path) {
  PLEURA_CHECK(bytes.size() <= 0x7fffffff, path, ": file too large (", bytes.size(), " bytes)");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  // Header first: the size cap is enforced before stb allocates or decodes anything.
  PLEURA_CHECK(stbi_info_from_memory(data, size, &w, &h, &comp), path, ": not a readable PNG or JPEG (",
               stbi_failure_reason(), ")");
  check_side(path, h, w);
  int channels = 0;
  std::unique_ptr<stbi_uc, StbiFree> pixels(stbi_load_from_memory(data, size, &w, &h, &channels, 0));
  PLEURA_CHECK(pixels != nullptr, path, ": cannot decode (", stbi_failure_reason(), ")");
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

}  // namespace

GrayImage read_image_gray(const std::string& path) {
  const std::string bytes = without_empty_idat(read_file(path));
  return detail::looks_like_jpeg(bytes) ? read_jpeg_gray(bytes, path) : read_png_gray(bytes, path);
}

namespace {

// stb_image_write's PNG of `channels` interleaved 8-bit samples per pixel, written atomically; `what` names
// the caller in errors.
void write_png(const std::string& path, const char* what, int64_t height, int64_t width, int channels,
               const std::vector<uint8_t>& pixels) {
  PLEURA_CHECK(height >= 1 && width >= 1 && height <= kMaxImageSide && width <= kMaxImageSide, "[", what, "] ",
               path, ": image is ", height, "x", width, " (H x W); each side must be 1..", kMaxImageSide);
  PLEURA_CHECK(static_cast<int64_t>(pixels.size()) == height * width * channels, "[", what, "] ", path,
               ": pixel buffer holds ", pixels.size(), " bytes, expected ", height * width * channels);
  std::string encoded;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  const int ok = stbi_write_png_to_func(append, &encoded, static_cast<int>(width), static_cast<int>(height),
                                        channels, pixels.data(), static_cast<int>(width * channels));
  PLEURA_CHECK(ok != 0, "[", what, "] ", path, ": PNG encoding failed");
  write_file_atomic(path, encoded);
}

}  // namespace

void write_png_gray(const std::string& path, const GrayImage& image) {
  write_png(path, "write_png_gray", image.height, image.width, 1, image.pixels);
}

void write_png_rgb(const std::string& path, const RgbImage& image) {
  write_png(path, "write_png_rgb", image.height, image.width, 3, image.pixels);
}

RgbImage read_png_rgb(const std::string& path) {
  const std::string bytes = without_empty_idat(read_file(path));
  PLEURA_CHECK(bytes.size() <= 0x7fffffff, path, ": file too large (", bytes.size(), " bytes)");
  PLEURA_CHECK(!detail::looks_like_jpeg(bytes), path, ": a JPEG; read_png_rgb reads PNG files only");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  PLEURA_CHECK(stbi_info_from_memory(data, size, &w, &h, &comp), path, ": not a readable PNG (",
               stbi_failure_reason(), ")");
  check_side(path, h, w);
  // Asking stb for 3 channels expands grey and drops alpha.
  std::unique_ptr<stbi_uc, StbiFree> pixels(stbi_load_from_memory(data, size, &w, &h, &comp, 3));
  PLEURA_CHECK(pixels != nullptr, path, ": cannot decode (", stbi_failure_reason(), ")");
  RgbImage out(h, w);
  std::memcpy(out.pixels.data(), pixels.get(), out.pixels.size());
  return out;
}

}  // namespace pleura::data
