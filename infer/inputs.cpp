// Finding and reading infer_unet's input images (see inputs.h).
#include "infer/inputs.h"

#include <filesystem>

#include "engine/error.h"
#include "engine/file_io.h"
#include "data/dicom.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/prepare.h"
#include "data/resize.h"

namespace fs = std::filesystem;

namespace pleura::infer {
namespace {

bool is_dicom_path(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return ext == ".dcm";
}

}  // namespace

InputSet find_inputs(const std::string& dir, const std::string& except) {
  require_folder(dir, "input folder");
  InputSet set;
  const fs::path manifest = fs::path(dir) / "manifest.csv";
  if (fs::is_regular_file(manifest)) {
    set.kind = InputKind::kPreparedCache;
    for (const data::ManifestRow& row : data::read_manifest(manifest.string())) {
      const std::string path = (fs::path(dir) / "images" / (row.image_id + ".png")).string();
      PLEURA_CHECK(fs::is_regular_file(path), manifest.string(), " lists the ImageId '", row.image_id,
                   "', but its image ", path, " does not exist");
      set.images.push_back({row.image_id, path});
    }
    PLEURA_CHECK(!set.images.empty(), manifest.string(), " lists no image");
    return set;
  }
  // prepare_data's walk: the same extensions, ImageIds and duplicate check, sorted by ImageId.
  for (const data::SourceImage& s : data::find_source_images(dir, except)) set.images.push_back({s.image_id, s.path});
  PLEURA_CHECK(!set.images.empty(), "no .dcm, .png, .jpg or .jpeg file under '", dir, "'");
  return set;
}

GrayImage load_input(const InferInput& input, int64_t size) {
  PLEURA_CHECK(size >= 1 && size <= data::kMaxImageSide, "[load_input] size ", size, " is outside 1..",
               data::kMaxImageSide);
  GrayImage image = is_dicom_path(input.path) ? data::read_dicom(input.path) : data::read_image_gray(input.path);
  if (image.height != size || image.width != size) image = data::resize_bilinear(image, size, size);
  return image;
}

const char* input_kind_name(InputKind kind) {
  return kind == InputKind::kPreparedCache ? "prepared cache" : "image folder";
}

}  // namespace pleura::infer
