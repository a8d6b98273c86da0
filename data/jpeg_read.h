// JPEG decoding through libjpeg-turbo (Debian's libjpeg62-turbo-dev), the decoder OpenCV's cv2.imread uses,
// so a grey read gives the reference's pixels exactly. Internal to data/image_io.cpp, which owns the
// PNG / JPEG formats; tests in tests/data/test_image_io.cpp and the fuzz target tests/fuzz (image).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pleura::data::detail {

// True when `bytes` start with a JPEG SOI marker (FF D8).
bool looks_like_jpeg(const std::string& bytes);

// Width and height from the JPEG header, reading nothing more. Throws, naming `path` and libjpeg's message.
void jpeg_size(const std::string& bytes, const std::string& path, int64_t& height, int64_t& width);

// The decoded luma plane (libjpeg's JCS_GRAYSCALE output, its default integer IDCT), row-major. The caller
// checks the size first (jpeg_size). Corrupt-data warnings (e.g. a file cut short) are not errors, as in
// OpenCV: libjpeg fills what is missing. Throws, naming `path` and libjpeg's message.
std::vector<uint8_t> decode_jpeg_gray(const std::string& bytes, const std::string& path, int64_t height, int64_t width);

}  // namespace pleura::data::detail
