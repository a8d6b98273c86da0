// The learning-curve picture of a run: training loss and validation score per epoch, drawn into an 8-bit
// grey image (no plotting library) and written as a PNG beside the metrics CSV after every epoch.
// Implementation in train/learning_curve.cpp; tested in tests/tools/test_train_unet.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace pleura {

struct CurvePoint {
  int64_t epoch = 0;
  double loss = 0.0;   // mean training loss of the epoch (NaN: not trained, e.g. validate_only)
  double score = 0.0;  // best validation score of the epoch (NaN: not validated)
};

// White background; the score (black, thick, square markers) on a fixed 0..1 axis at the left, the loss
// (grey, thin, dot markers) scaled to its maximum with that maximum printed at the right; one point per
// row in order (a staged run's epochs follow each other), epoch numbers under the first and last point.
GrayImage draw_learning_curve(const std::vector<CurvePoint>& points, int64_t width = 640, int64_t height = 360);

// Reads the metrics CSV (train/train_log.h: metrics_csv) and writes the PNG atomically.
void write_learning_curve(const std::string& metrics_csv_path, const std::string& png_path);

}  // namespace pleura
