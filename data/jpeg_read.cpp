// libjpeg-turbo behind data/jpeg_read.h. libjpeg reports fatal errors through error_exit, which must not
// return: it longjmps back to the setjmp in `with_decompressor`, whose frame holds no C++ object that needs
// destroying (the message is copied out before the jump).
#include "data/jpeg_read.h"

#include <csetjmp>
#include <cstdio>
#include <jpeglib.h>

#include "engine/error.h"

namespace pleura::data::detail {
namespace {

struct ErrorManager {
  jpeg_error_mgr base;  // first: libjpeg sees a jpeg_error_mgr*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr info) {
  auto* err = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, err->message);
  std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr, int) {}  // warnings and traces: libjpeg goes on, as OpenCV lets it

// Runs `step` on a decompressor reading `bytes`; false with `message` set when libjpeg gave up. Only
// trivially destructible locals live between setjmp and the longjmp that may return to it.
template <class Step>
bool with_decompressor(const std::string& bytes, char (&message)[JMSG_LENGTH_MAX], Step step) {
  jpeg_decompress_struct info;
  ErrorManager err;
  info.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  err.base.emit_message = on_message;
  err.message[0] = '\0';
  if (setjmp(err.jump) != 0) {
    jpeg_destroy_decompress(&info);
    std::snprintf(message, sizeof(message), "%s", err.message);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  step(info);
  jpeg_destroy_decompress(&info);
  return true;
}

}  // namespace

bool looks_like_jpeg(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF && static_cast<unsigned char>(bytes[1]) == 0xD8;
}

void jpeg_size(const std::string& bytes, const std::string& path, int64_t& height, int64_t& width) {
  char message[JMSG_LENGTH_MAX];
  JDIMENSION h = 0, w = 0;
  const bool ok = with_decompressor(bytes, message, [&](jpeg_decompress_struct& info) {
    h = info.image_height;
    w = info.image_width;
  });
  PLEURA_CHECK(ok, path, ": not a readable JPEG (libjpeg: ", message, ")");
  height = h;
  width = w;
}

std::vector<uint8_t> decode_jpeg_gray(const std::string& bytes, const std::string& path, int64_t height, int64_t width) {
  std::vector<uint8_t> pixels(static_cast<size_t>(height * width));
  char message[JMSG_LENGTH_MAX];
  JDIMENSION got_h = 0, got_w = 0;
  const bool ok = with_decompressor(bytes, message, [&](jpeg_decompress_struct& info) {
    info.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&info);
    got_h = info.output_height;
    got_w = info.output_width;
    if (got_h != static_cast<JDIMENSION>(height) || got_w != static_cast<JDIMENSION>(width) ||
        info.output_components != 1) {
      jpeg_abort_decompress(&info);
      return;
    }
    while (info.output_scanline < info.output_height) {
      JSAMPROW row = pixels.data() + static_cast<size_t>(info.output_scanline) * static_cast<size_t>(width);
      jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
  });
  PLEURA_CHECK(ok, path, ": cannot decode (libjpeg: ", message, ")");
  PLEURA_CHECK(got_h == static_cast<JDIMENSION>(height) && got_w == static_cast<JDIMENSION>(width), path,
               ": JPEG decodes to ", got_w, "x", got_h, " although its header says ", width, "x", height);
  return pixels;
}

}  // namespace pleura::data::detail
