// The one translation unit that compiles stb_image and stb_image_write (header-only libraries from
// Debian's libstb-dev; its shared libstb is not linked). Only the PNG decoder is built: Debian's stb_image
// 2.27 mishandles malformed JPEGs (out-of-bounds reads and writes found by tests/fuzz), and libjpeg-turbo
// is what the reference's OpenCV decodes JPEG with. The 16384-pixel cap is image_io.cpp's, checked from
// stbi_info before decoding; stb's own cap is left at its default so that stbi_info reports an oversized
// image's size instead of failing anonymously.
#include <zlib.h>

#include <cstdlib>

// stb_image_write's own deflate is slow (three quarters of prepare_data's time at 1024x1024); zlib,
// which DCMTK's dcmdata already links (its CMake target carries libz), compresses the PNG rows instead,
// at level 1 (Z_BEST_SPEED): on SIIM images at 1024x1024 it is several times faster than stb's deflate,
// and 2.5 times faster than zlib level 3 for files 7% larger.
static unsigned char* pleura_zlib_compress(unsigned char* data, int size, int* out_size, int /*quality*/) {
  uLongf capacity = compressBound(static_cast<uLong>(size));
  auto* out = static_cast<unsigned char*>(std::malloc(capacity));
  if (out == nullptr) return nullptr;
  if (compress2(out, &capacity, data, static_cast<uLong>(size), Z_BEST_SPEED) != Z_OK) {
    std::free(out);
    return nullptr;
  }
  *out_size = static_cast<int>(capacity);
  return out;
}
#define STBIW_ZLIB_COMPRESS pleura_zlib_compress

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_ONLY_PNG  // JPEG goes through libjpeg-turbo (data/jpeg_read.cpp)
#define STBI_NO_HDR
#define STBI_NO_LINEAR

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_image.h>
#include <stb_image_write.h>
#pragma GCC diagnostic pop
