// Dataset preparation (the library behind tools/prepare_data): finds the images of a SIIM-style tree
// (dicom-images-train/<study>/<series>/<ImageId>.dcm; PNG and JPEG files are accepted too; ImageId is
// the file name without its extension), and writes
//   OUT/images/<ImageId>.png   8-bit grey, size x size (cv2 INTER_LINEAR semantics when resized)
//   OUT/masks/<ImageId>.png    with labels: 0/255, decoded at the source size from the RLE rows, then
//                              resized with nearest neighbour (cv2 INTER_NEAREST, as albumentations
//                              resizes masks) so it stays binary
//   OUT/manifest.csv           see manifest.h
//   OUT/folds_<K>.csv          with --folds K: a seeded stratified split (folds.h)
// Every file is written atomically; a rerun skips images whose outputs exist (resume), after checking
// their size, unless the source file was modified after its cached image was written (then the image and
// its mask are made again: "redone"). The masks' provenance is the label file's content, recorded in
// OUT/prepare_record.txt. Tests: tests/tools/test_prepare_data.cpp.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "data/rle.h"

namespace pleura::data {

struct SourceImage {
  std::string image_id;
  std::string path;
};

// Every .dcm / .png / .jpg / .jpeg file under `dir` (any depth, extension in any case), sorted by
// ImageId, except under `except` (a tool's output folder inside `dir`, whose PNGs are no sources). Two
// files with the same ImageId, and a dangling symbolic link, are errors naming them.
std::vector<SourceImage> find_source_images(const std::string& dir, const std::string& except = "");

struct PrepareOptions {
  std::string images_dir, labels_path, out_dir;
  int64_t size = 0;  // output side, 1..16384
  int threads = 1;
  RleFormat label_format = RleFormat::kSiimRelative;
  bool skip_missing = false;  // images without labels are skipped and labels without images ignored
  int folds = 0;              // 0: no folds file
  uint64_t seed = 0;          // for the folds
  bool terminal = false;      // progress as a bar (else plain lines)
};

struct PrepareSummary {
  int64_t images = 0;             // images in the manifest
  int64_t written = 0;            // prepared in this run
  int64_t resumed = 0;            // already there, skipped
  int64_t redone = 0;             // already there but older than their source: made again (in `written`)
  int64_t unlabelled_skipped = 0; // images without a label row (with skip_missing)
  int64_t labels_without_image = 0;
  int64_t positives = 0;
  double seconds = 0;
};

// Runs the whole preparation; progress goes to `log`. Throws pleura::Error on the first failure (its
// outputs so far stay valid, and a rerun resumes), and Interrupted (engine/interrupt.h) when a stop is
// requested: no new image starts, the ones in progress end.
PrepareSummary prepare_dataset(const PrepareOptions& options, std::ostream& log);

}  // namespace pleura::data
