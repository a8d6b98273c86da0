// The training data of one run: the images of a folds file, read from a prepared cache
// (tools/prepare_data: CACHE/images/<ImageId>.png, CACHE/masks/<ImageId>.png, CACHE/manifest.csv) or
// from a DICOM tree with its RLE label CSV (decoded and drawn per item), split per fold into a training
// and a validation list, and handed to the loader as SampleSources. Implementation in data/dataset.cpp;
// tests in tests/data/test_dataset.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/folds.h"
#include "data/rle_csv.h"
#include "data/loader.h"

namespace pleura {

struct DatasetSource {
  std::string cache;   // a prepared cache; or, when empty:
  std::string images;  // a DICOM (or PNG/JPEG) tree, ImageId = file name without extension
  std::string labels;  // its SIIM RLE label CSV
};

// How an item's mask is made.
enum class MaskPolicy {
  kZerosForNegatives,  // training: an image with exist_labels 0 gets an empty mask without reading one
                       // (the reference's PneumothoraxDataset in 'train' mode)
  kRead,               // validation: every mask is read (the reference's 'val' mode)
};

// One fold's lists, as indices into TrainDataset::entries(), each in folds-file order.
struct FoldSplit {
  int fold = 0;
  std::vector<int64_t> train;          // entries of every other fold
  std::vector<int64_t> valid;          // entries of this fold
  std::vector<bool> train_positive;    // exist_labels of train[i] (for the sampler)
  std::vector<bool> valid_positive;    // exist_labels of valid[i]
  int64_t train_positives() const;
  int64_t valid_positives() const;
};

class TrainDataset {
 public:
  // Reads the folds file and checks that every one of its images can be read: in a cache, that
  // images/<ImageId>.png and masks/<ImageId>.png exist and the manifest lists the image with the same
  // label; in a tree, that the image file exists and the labels hold a row of the same label. An error
  // names the ImageIds at fault (the first few and how many) and where they were looked for.
  static TrainDataset open(const DatasetSource& source, const std::string& folds_file);

  const data::Folds& folds() const { return folds_; }
  const std::vector<data::FoldEntry>& entries() const { return folds_.entries; }
  // Throws when `fold` holds no image or leaves no training image.
  FoldSplit split(int fold) const;

  // The image and mask of entry `entry` (8-bit; mask 0/255, the image's size). Thread-safe.
  Sample load(int64_t entry, MaskPolicy policy) const;
  // A SampleSource over `entries` (loader index i -> entries[i]) and its namer (the ImageId). They share
  // the dataset's reader, so they stay valid after the TrainDataset is gone.
  SampleSource source(std::vector<int64_t> entries, MaskPolicy policy) const;
  SampleNamer namer(std::vector<int64_t> entries) const;
  // "cache DIR" or "DICOM tree DIR with labels FILE", for logs.
  std::string describe() const;

  struct Reader;  // what load() needs (data/dataset.cpp)

 private:
  data::Folds folds_;
  std::shared_ptr<const Reader> reader_;
};

}  // namespace pleura
