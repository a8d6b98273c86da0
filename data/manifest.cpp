// Manifest CSV reading and writing (see manifest.h).
#include "data/manifest.h"

#include "engine/error.h"
#include "engine/file_io.h"
#include "data/csv.h"

namespace pleura::data {
namespace {

constexpr const char* kHeader = "ImageId,source,height,width,source_height,source_width,has_mask,mask_pixels";

}  // namespace

void check_manifest_source(const std::string& source) {
  PLEURA_CHECK(source.find(',') == std::string::npos && source.find('\n') == std::string::npos, "source path '",
               source, "' holds a comma or newline, which the manifest CSV cannot carry: rename it");
}

void write_manifest(const std::string& path, const std::vector<ManifestRow>& rows) {
  std::string text = cat(kHeader, "\n");
  for (const ManifestRow& r : rows) {
    check_manifest_source(r.source);
    text += cat(r.image_id, ",", r.source, ",", r.height, ",", r.width, ",", r.source_height, ",", r.source_width, ",");
    text += r.has_mask ? cat(*r.has_mask ? 1 : 0, ",", r.mask_pixels) : std::string(",");
    text += '\n';
  }
  write_file_atomic(path, text);
}

std::vector<ManifestRow> read_manifest(const std::string& path) {
  std::vector<CsvLine> lines = read_csv_lines(path);
  PLEURA_CHECK(!lines.empty() && lines[0].text == kHeader, path, ":1: expected the header '", kHeader, "'");
  std::vector<ManifestRow> rows;
  for (size_t k = 1; k < lines.size(); ++k) {
    const CsvLine& line = lines[k];
    std::vector<std::string_view> f = split_fields(line.text);
    PLEURA_CHECK(f.size() == 8, path, ":", line.number, ": expected 8 fields, got ", f.size());
    ManifestRow r;
    r.image_id = std::string(f[0]);
    check_image_id(r.image_id, cat(path, ":", line.number));  // infer_unet writes <output>/<ImageId>.npy
    r.source = std::string(f[1]);
    int64_t* numbers[] = {&r.height, &r.width, &r.source_height, &r.source_width};
    for (int i = 0; i < 4; ++i) {
      PLEURA_CHECK(parse_nonnegative(f[static_cast<size_t>(2 + i)], int64_t{1} << 40, *numbers[i]) && *numbers[i] >= 1,
                   path, ":", line.number, ": field ", 3 + i, " '", f[static_cast<size_t>(2 + i)],
                   "' is not a size (a whole number >= 1)");
    }
    if (!f[6].empty() || !f[7].empty()) {
      int64_t has = 0;
      PLEURA_CHECK(parse_nonnegative(f[6], 1, has), path, ":", line.number, ": has_mask '", f[6], "' is not 0 or 1");
      PLEURA_CHECK(parse_nonnegative(f[7], int64_t{1} << 40, r.mask_pixels), path, ":", line.number,
                   ": mask_pixels '", f[7], "' is not a count");
      r.has_mask = has == 1;
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace pleura::data
