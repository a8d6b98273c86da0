// Ground truth for search_triplets, at the size of the probability maps: either a folder of
// <ImageId>.png masks (prepare_data's OUT/masks; non-zero = pneumothorax) or an RLE label CSV decoded at
// the labels' size (1024x1024 by default). A truth of another size than the maps is brought to it with
// nearest neighbour (data::resize_nearest, cv2 INTER_NEAREST), so it stays binary: the same resize
// prepare_data and the reference's transforms (albumentations resizes masks with nearest) apply to the
// validation masks, so scores at 512 or 256 match what the reference's validation saw. Tests:
// tests/eval/test_truth_masks.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "data/rle_csv.h"
#include "data/image.h"

namespace pleura::eval {

class TruthMasks {
 public:
  // Every <ImageId>.png directly in `dir` (other files ignored; none is an error).
  static TruthMasks from_folder(const std::string& dir);
  // Every row of an RLE label CSV (data::RleLabels: rows checked, several rows per id OR-ed); masks are
  // decoded at height x width.
  static TruthMasks from_labels(const std::string& path, data::RleFormat format, int64_t height, int64_t width);

  bool contains(const std::string& id) const;
  // The mask of `id` (0/255) at height x width. Throws for an unknown id.
  GrayImage mask(const std::string& id, int64_t height, int64_t width) const;
  // "mask folder DIR" or "labels FILE", for messages.
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::unordered_map<std::string, std::string> files_;  // folder: ImageId -> path
  std::shared_ptr<const data::RleLabels> labels_;       // labels: the rows
  int64_t label_height_ = 0, label_width_ = 0;
};

}  // namespace pleura::eval
