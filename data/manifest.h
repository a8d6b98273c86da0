// The manifest prepare_data writes beside its PNGs: one CSV row per prepared image,
//   ImageId,source,height,width,source_height,source_width,has_mask,mask_pixels
// (height/width of the written PNG; source_* of the original file; has_mask 1 when the image's label
// rows hold a run (a positive image), 0 when they are all -1; mask_pixels the 255-pixels of the written,
// possibly resized mask, which can be 0 for a tiny lesion at a small size; both mask columns empty when
// no labels were given). Rows are sorted by ImageId. Tests: tests/tools/test_prepare_data.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pleura::data {

struct ManifestRow {
  std::string image_id;
  std::string source;  // path of the original DICOM / PNG / JPEG
  int64_t height = 0, width = 0;
  int64_t source_height = 0, source_width = 0;
  std::optional<bool> has_mask;  // the labels say positive; absent without labels
  int64_t mask_pixels = 0;       // pixels of the written mask that are 255
};

// Throws unless the manifest can carry `source` (no comma, no newline); prepare_data checks every path
// before it writes any image.
void check_manifest_source(const std::string& source);
void write_manifest(const std::string& path, const std::vector<ManifestRow>& rows);
// Strict: the exact header, 8 fields per row, numbers where numbers belong; errors name file:line.
std::vector<ManifestRow> read_manifest(const std::string& path);

}  // namespace pleura::data
