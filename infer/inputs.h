// The images infer_unet predicts: found in a folder (a DICOM tree, a folder of PNG/JPEG files, or a cache
// written by tools/prepare_data), read as 8-bit grey and resized to the model's input size as the
// reference's test transform (albumentations Resize, cv2 INTER_LINEAR) did. Tests:
// tests/infer/test_inputs.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace pleura::infer {

struct InferInput {
  std::string image_id;  // the output map is <image_id>.png / .npy
  std::string path;
};

enum class InputKind {
  kPreparedCache,  // DIR/manifest.csv and DIR/images/<ImageId>.png (tools/prepare_data's output)
  kImageTree,      // every .dcm / .png / .jpg / .jpeg under DIR, at any depth
};

struct InputSet {
  InputKind kind = InputKind::kImageTree;
  std::vector<InferInput> images;  // sorted by ImageId (the reference sorted its test folder's listing)
};

// DIR holding manifest.csv is a prepared cache: its rows, each image DIR/images/<ImageId>.png, which must
// exist. Otherwise every DICOM / PNG / JPEG file under DIR (extension in any case); the ImageId is the file
// name without its extension, and two files with one ImageId are an error naming both. Throws when DIR is
// not a folder or holds no image. The folder `except` (the run's output, when inside DIR) is not searched.
InputSet find_inputs(const std::string& dir, const std::string& except = "");

// The image as 8-bit grey (data/dicom.h for .dcm files, data/image_io.h otherwise), resized to
// size x size with data::resize_bilinear (cv2.resize INTER_LINEAR, bit for bit) unless it has that size.
// Errors name the file.
GrayImage load_input(const InferInput& input, int64_t size);

const char* input_kind_name(InputKind kind);

}  // namespace pleura::infer
