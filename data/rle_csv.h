// Label files of RLE masks: `ImageId,EncodedPixels` CSVs as SIIM-ACR published them. Accepted: the
// headers `ImageId,EncodedPixels`, `ImageId, EncodedPixels` and `fname,mask` (case-insensitive, spaces
// around names ignored), a UTF-8 byte-order mark, CRLF, a missing final newline, `-1` or ` -1` for an
// empty mask, and several rows per ImageId (their masks are OR-ed). Every row is checked when the file
// is read; errors name file:line. Tests: tests/data/test_rle.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/rle.h"
#include "data/image.h"

namespace pleura::data {

struct RleRow {
  int64_t line = 0;              // 1-based line in the file
  std::vector<int64_t> numbers;  // parsed start/length pairs (empty for -1)
};

class RleLabels {
 public:
  // Reads and checks every row of `path` in the given RLE form.
  static RleLabels read(const std::string& path, RleFormat format);

  const std::string& path() const { return path_; }
  RleFormat format() const { return format_; }
  // ImageIds in the order of their first row.
  const std::vector<std::string>& ids() const { return ids_; }
  bool contains(const std::string& id) const { return rows_.count(id) != 0; }
  // True when at least one row of `id` has a run; throws for an unknown id.
  bool positive(const std::string& id) const;
  const std::vector<RleRow>& rows(const std::string& id) const;
  // The OR of all rows of `id` as an H x W mask of 0/255; errors name file:line.
  GrayImage mask(const std::string& id, int64_t height, int64_t width) const;

 private:
  std::string path_;
  RleFormat format_ = RleFormat::kSiimRelative;
  std::vector<std::string> ids_;
  std::unordered_map<std::string, std::vector<RleRow>> rows_;
};

// One output row: an ImageId and its encoded mask ("-1" when empty).
struct RleOutputRow {
  std::string image_id;
  std::string rle;
};

// Header style of written label files: kPlain `ImageId,EncodedPixels` / `id,rle`; kSiimTrain
// `ImageId, EncodedPixels` / `id, rle` (a space after every comma, as in SIIM's train-rle.csv).
enum class RleCsvStyle { kPlain, kSiimTrain };

// Writes rows in the given order, atomically (temporary file + rename).
void write_rle_csv(const std::string& path, const std::vector<RleOutputRow>& rows,
                   RleCsvStyle style = RleCsvStyle::kPlain);

}  // namespace pleura::data
