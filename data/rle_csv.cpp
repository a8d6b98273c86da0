// Reading and writing RLE label CSVs (see rle_csv.h).
#include "data/rle_csv.h"

#include "engine/error.h"
#include "engine/file_io.h"
#include "data/csv.h"

namespace pleura::data {

RleLabels RleLabels::read(const std::string& path, RleFormat format) {
  RleLabels labels;
  labels.path_ = path;
  labels.format_ = format;
  std::vector<CsvLine> lines = read_csv_lines(path);
  PLEURA_CHECK(!lines.empty(), path, ": empty label file (expected a header ImageId,EncodedPixels)");
  const CsvLine& header = lines.front();
  std::vector<std::string_view> names = split_fields(header.text);
  const bool header_ok = names.size() == 2 &&
                         (to_lower(trim(names[0])) == "imageid" || to_lower(trim(names[0])) == "fname") &&
                         (to_lower(trim(names[1])) == "encodedpixels" || to_lower(trim(names[1])) == "mask");
  PLEURA_CHECK(header_ok, path, ":", header.number,
               ": expected the header 'ImageId,EncodedPixels' (or 'fname,mask'), got '", header.text, "'");
  for (size_t k = 1; k < lines.size(); ++k) {
    const CsvLine& line = lines[k];
    const std::string where = cat(path, ":", line.number);
    std::vector<std::string_view> fields = split_fields(line.text);
    PLEURA_CHECK(fields.size() == 2, where, ": expected 2 fields (ImageId,EncodedPixels), got ",
                 fields.size());
    std::string id(trim(fields[0]));
    check_image_id(id, where);
    RleRow row{line.number, parse_rle(fields[1], format, where)};
    auto [it, inserted] = labels.rows_.try_emplace(id);
    if (inserted) labels.ids_.push_back(id);
    it->second.push_back(std::move(row));
  }
  return labels;
}

const std::vector<RleRow>& RleLabels::rows(const std::string& id) const {
  auto it = rows_.find(id);
  PLEURA_CHECK(it != rows_.end(), path_, ": no label row for ImageId '", id, "'");
  return it->second;
}

bool RleLabels::positive(const std::string& id) const {
  for (const RleRow& row : rows(id)) {
    if (!row.numbers.empty()) return true;
  }
  return false;
}

GrayImage RleLabels::mask(const std::string& id, int64_t height, int64_t width) const {
  PLEURA_CHECK(height > 0 && width > 0, path_, ": mask size ", height, "x", width, " for '", id,
               "' must be positive");
  GrayImage mask(height, width, 0);
  for (const RleRow& row : rows(id)) {
    paint_rle(row.numbers, format_, mask, cat(path_, ":", row.line, " (", id, ")"));
  }
  return mask;
}

void write_rle_csv(const std::string& path, const std::vector<RleOutputRow>& rows, RleCsvStyle style) {
  const char* separator = style == RleCsvStyle::kSiimTrain ? ", " : ",";
  std::string text = cat("ImageId", separator, "EncodedPixels\n");
  for (const RleOutputRow& row : rows) {
    PLEURA_CHECK(!row.image_id.empty() && row.image_id.find(',') == std::string::npos,
                 "[write_rle_csv] ImageId '", row.image_id, "' is empty or holds a comma (", path, ")");
    text += row.image_id;
    text += separator;
    text += row.rle;
    text += '\n';
  }
  write_file_atomic(path, text);
}

}  // namespace pleura::data
