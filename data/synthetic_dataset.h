// A synthetic data set laid out like SIIM-ACR's (the library behind tools/make_demo_data):
//   OUT/dicom-images-train/<study>/<series>/<ImageId>.dcm   JPEG baseline, MONOCHROME2, 8 bits (DCMTK)
//   OUT/dicom-images-test/<study>/<series>/<ImageId>.dcm
//   OUT/train-rle.csv        `ImageId, EncodedPixels`, SIIM relative RLE, one row per lesion (images
//                            with two lesions have two rows), ` -1` for an empty image
//   OUT/test-rle.csv         the test truth, `ImageId,EncodedPixels`, one row per image (lesions united)
//   OUT/train_folds_5.csv    `fname,fold,exist_labels`, a stratified 5-fold split of the training images
//   OUT/sample_submission.csv  `ImageId,EncodedPixels`, every test image `-1`
// About 22% of the images (rounded, at least one of each split when it has two or more images) are
// positive; 15% of the positives carry a second lesion in the other lung. ImageIds and study/series
// UIDs are "2.25.<n>" UIDs derived from the seed. Deterministic: the same options give the same bytes,
// whatever the thread count. Tests: tests/tools/test_make_demo_data.cpp, tests/data/test_synthetic.cpp.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "data/synthetic.h"

namespace pleura::data {

struct DemoDataOptions {
  std::string out_dir;
  int64_t train = 600, test = 100, size = 256;
  uint64_t seed = 0;
  Difficulty difficulty = Difficulty::kRealistic;
  int threads = 1;
  bool overwrite = false;  // allow an OUT that already holds a data set (its files are replaced)
  bool terminal = false;   // progress as a bar (else plain lines)
};

struct DemoDataSummary {
  int64_t train_positive = 0, test_positive = 0, two_lesion = 0;
  double seconds = 0;
};

// How one image of the set is drawn (exposed for the tests).
struct DemoImagePlan {
  std::string image_id, study_uid, series_uid;
  int lesions = 0;
  uint64_t seed = 0;
};
// The plan of split `split` ("train" or "test") with `count` images.
std::vector<DemoImagePlan> plan_demo_split(const std::string& split, int64_t count, uint64_t seed);

DemoDataSummary make_demo_dataset(const DemoDataOptions& options, std::ostream& log);

}  // namespace pleura::data
