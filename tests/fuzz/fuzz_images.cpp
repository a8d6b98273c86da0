// Fuzz targets of the image readers: DICOM through DCMTK (data/dicom.h, the read path of prepare_data
// and infer_unet) and PNG / JPEG (data/image_io.h: grey for the tools, and PNG as RGB, the reader of the
// review overlays' tests).
#include <string>

#include "data/dicom.h"
#include "data/image_io.h"
#include "tests/fuzz/fuzz_targets.h"

namespace pleura::fuzz {

int fuzz_dicom(const uint8_t* data, size_t size) {
  const std::string& path = scratch_file({reinterpret_cast<const char*>(data), size}, ".dcm");
  refused_ok([&] {
    const data::DicomInfo header = data::read_dicom_info(path);
    data::DicomInfo info;
    const GrayImage image = data::read_dicom(path, &info);
    require(info.rows == header.rows && info.columns == header.columns, "read_dicom and read_dicom_info disagree");
    require(image.height == info.rows && image.width == info.columns &&
                image.pixels.size() == static_cast<size_t>(info.rows * info.columns),
            "the decoded DICOM image does not have the header's size");
  });
  return 0;
}

int fuzz_image(const uint8_t* data, size_t size) {
  // The reader picks the decoder by extension: name the file after its magic bytes, as a user would.
  const bool png = size >= 4 && data[0] == 0x89 && data[1] == 'P' && data[2] == 'N' && data[3] == 'G';
  const std::string& path = scratch_file({reinterpret_cast<const char*>(data), size}, png ? ".png" : ".jpg");
  refused_ok([&] {
    int64_t height = 0, width = 0;
    data::read_image_size(path, height, width);
    const GrayImage image = data::read_image_gray(path);
    require(image.height == height && image.width == width, "read_image_gray and read_image_size disagree");
    require(image.pixels.size() == static_cast<size_t>(height * width), "image buffer of the wrong size");
    if (!png) return;
    const RgbImage rgb = data::read_png_rgb(path);
    require(rgb.height == height && rgb.width == width, "read_png_rgb and read_image_size disagree");
    require(rgb.pixels.size() == static_cast<size_t>(height * width * 3), "RGB buffer of the wrong size");
  });
  return 0;
}

}  // namespace pleura::fuzz
