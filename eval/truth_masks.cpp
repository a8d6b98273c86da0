// Truth masks from a folder or a label CSV (see truth_masks.h).
#include "eval/truth_masks.h"

#include <filesystem>

#include "engine/error.h"
#include "engine/file_io.h"
#include "data/image_io.h"
#include "data/resize.h"

namespace fs = std::filesystem;

namespace pleura::eval {

TruthMasks TruthMasks::from_folder(const std::string& dir) {
  TruthMasks t;
  t.source_ = cat("mask folder ", dir);
  const auto is_png = [](const fs::path& p) { return p.extension() == ".png"; };
  for (const fs::path& p : files_in_folder(dir, "truth masks: folder", /*recursive=*/false, is_png))
    t.files_.emplace(p.stem().string(), p.string());
  PLEURA_CHECK(!t.files_.empty(), "truth masks: no <ImageId>.png file in '", dir, "'");
  return t;
}

TruthMasks TruthMasks::from_labels(const std::string& path, data::RleFormat format, int64_t height,
                                   int64_t width) {
  PLEURA_CHECK(height > 0 && width > 0, "truth masks: label size ", height, "x", width, " must be positive");
  TruthMasks t;
  t.source_ = cat("labels ", path);
  t.labels_ = std::make_shared<const data::RleLabels>(data::RleLabels::read(path, format));
  t.label_height_ = height;
  t.label_width_ = width;
  return t;
}

bool TruthMasks::contains(const std::string& id) const {
  return labels_ ? labels_->contains(id) : files_.count(id) != 0;
}

GrayImage TruthMasks::mask(const std::string& id, int64_t height, int64_t width) const {
  GrayImage m;
  if (labels_) {
    m = labels_->mask(id, label_height_, label_width_);
  } else {
    auto it = files_.find(id);
    PLEURA_CHECK(it != files_.end(), "truth masks: no mask for ImageId '", id, "' in ", source_);
    m = data::read_image_gray(it->second);
  }
  if (m.height != height || m.width != width) m = data::resize_nearest(m, height, width);
  return m;
}

}  // namespace pleura::eval
