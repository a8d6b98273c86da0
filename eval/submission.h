// The submission writer behind rle_submit: probability map -> triplet rule -> small components removed
// (optional) -> the reference's upscaling to 1024 -> RLE, for every ImageId of a sample submission, in
// its order. The command line is tools/rle_submit.cpp. Tests: tests/eval/test_submission.cpp
// (worked examples, the upscaling path, the golden case made with the reference's own code) and
// tests/tools/test_rle_submit.cpp.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops/triplet_mask.h"
#include "engine/tensor.h"
#include "data/rle.h"
#include "data/image.h"
#include "eval/ensemble.h"

namespace pleura::eval {

struct SubmitOptions {
  Triplet triplet;
  int64_t min_component = 0;                 // 8-connected components with fewer pixels are removed (0: off)
  int64_t out_height = 1024, out_width = 1024;  // the size masks are encoded at
  data::RleFormat format = data::RleFormat::kSiimRelative;
};

// The triplet rule on one map (float32 [H, W]) through engine/ops/triplet_mask.h: all 0 when
// count(p > top) < min_area, else 255 where p > bottom (thresholds compared as float32).
GrayImage triplet_mask(const Tensor& map, const Triplet& triplet);

// The reference's way to bring a 0/255 mask to out_h x out_w (TripletSubmit.apply_thresholds): resized
// as cv2.resize(INTER_LINEAR) (data::resize_bilinear, bit for bit), then 255 where the value is > 127.
// A mask already of that size only goes through the threshold.
GrayImage upscale_mask(const GrayImage& mask, int64_t out_h, int64_t out_w);

// triplet_mask, then remove_small_components(min_component) at the map's size, then upscale_mask.
// `removed` (if given) receives the number of components removed.
GrayImage submission_mask(const Tensor& map, const SubmitOptions& options, int64_t* removed = nullptr);

// The ImageIds of a sample submission (a CSV whose header starts with ImageId or fname; only the first
// column is read), in file order, each once (the stage 2 file repeats ids; the first row counts), and how
// many rows repeated an earlier id, for the tools to report. Errors name file:line.
struct SampleIds {
  std::vector<std::string> ids;
  int64_t repeated_rows = 0;
  std::string first_repeat;  // "file:line ('id')" of the first repeated row
};
SampleIds read_sample_ids(const std::string& path);

struct SubmissionSummary {
  int64_t rows = 0;                // rows written (= distinct ids of the sample submission)
  int64_t non_empty = 0;           // rows with a mask
  int64_t missing_as_empty = 0;    // sample ids without a map, written -1 (missing_empty)
  int64_t maps_not_in_sample = 0;  // maps left out because the sample submission does not list them
  int64_t components_removed = 0;
  double seconds = 0;
};

// Encodes the ensemble's map of every sample id and writes `out_path` (ImageId,EncodedPixels, atomically,
// in the sample's order). A sample id without a map is an error listing them all, unless missing_empty
// (then it is written -1). Images run in parallel (parallel_for); progress goes to `log`.
SubmissionSummary write_submission(const ProbEnsemble& maps, const std::vector<std::string>& sample_ids,
                                   const SubmitOptions& options, bool missing_empty, const std::string& out_path,
                                   std::ostream& log, bool terminal = false);

}  // namespace pleura::eval
