// The one translation unit that compiles stb_image and stb_image_write (header-only libraries from
// Debian's libstb-dev; its shared libstb is not linked). Only the PNG and JPEG decoders are built. The
// 16384-pixel cap is image_io.cpp's, checked from stbi_info before decoding; stb's own cap is left at its
// default so that stbi_info reports an oversized image's size instead of failing anonymously.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
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
