// 8-bit grey images from and to PNG / JPEG files: PNG through stb_image (stb_impl.cpp holds the
// implementation), JPEG through libjpeg-turbo (jpeg_read.h). Dimensions are checked from the header before
// any pixel is decoded: width and height at most kMaxImageSide. Colour is converted to grey as OpenCV's
// cv2.imread(path, IMREAD_GRAYSCALE) does (see read_image_gray). Tests: tests/data/test_image_io.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "data/image.h"
#include "data/rgb_image.h"

namespace pleura::data {

inline constexpr int64_t kMaxImageSide = 16384;

// Reads a PNG or JPEG as 8-bit grey.
//  - PNG grey: as stored (16-bit samples keep their high byte, as libpng's strip_16 in OpenCV does).
//  - PNG RGB / palette (alpha dropped): OpenCV hands this to libpng's rgb_to_gray with coefficients
//    0.299 / 0.587, which libpng turns into 15-bit integers without rounding (9797, 19234, and
//    32768-9797-19234 = 3737 for blue) and applies with truncation: grey = (9797 R + 19234 G + 3737 B)
//    >> 15, and grey = R when R == G == B. We do the same. (libpng works in linear light instead when the
//    file carries a gAMA or sRGB chunk; we do not, so such files can differ by a level or two.)
//  - JPEG: the luma (Y) channel through libjpeg-turbo (data/jpeg_read.h), as OpenCV reads it in grey.
GrayImage read_image_gray(const std::string& path);

// Width and height from the file header only (no decoding); throws on unreadable files.
void read_image_size(const std::string& path, int64_t& height, int64_t& width);

// Encodes an 8-bit grey PNG (stb_image_write's filters, zlib's deflate at level 1) and writes it
// atomically (temporary file in the same folder, then rename).
void write_png_gray(const std::string& path, const GrayImage& image);

// Encodes an 8-bit RGB PNG (the same encoder and atomic write as write_png_gray): the review overlays.
void write_png_rgb(const std::string& path, const RgbImage& image);

// Reads a PNG (not JPEG) as 8-bit RGB: grey samples give R = G = B, alpha is dropped, 16-bit samples keep
// their high byte. Errors name the file.
RgbImage read_png_rgb(const std::string& path);

// True when the path ends in .png, .jpg or .jpeg (any case).
bool is_png_or_jpeg_path(const std::string& path);

}  // namespace pleura::data
