// Scoring a submission CSV against a truth CSV (tools/score_submission): the Kaggle metric through
// train/metric.h (per-image dice, empty/empty = 1, mean over images), the dice on the images whose truth
// is not empty, the accuracy of the empty/non-empty decision, and what an all-empty submission would
// score. Tests: tests/eval/test_scoring.cpp, tests/tools/test_score_submission.cpp.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "data/rle_csv.h"

namespace pleura::eval {

struct SubmissionScore {
  int64_t images = 0;              // the truth's ImageIds
  int64_t positive_images = 0;     // with a non-empty truth
  int64_t predicted_positive = 0;  // with a non-empty submitted mask
  double kaggle_dice = 0;          // mean per-image dice
  double dice_positive = 0;        // mean dice over positive images; NaN when there are none
  double empty_accuracy = 0;       // fraction of images where (prediction empty) == (truth empty)
  double empty_submission_dice = 0;  // the Kaggle score of "-1" for every image: about the fraction of
                                     // empty truths (eps / (T + eps) for a positive one, as image_dice says)
};

struct ScoreOptions {
  int64_t height = 1024, width = 1024;  // the masks' size (both files)
  bool ignore_extra = false;            // submission rows for ids not in the truth are skipped, not an error
};

// Scores every ImageId of `truth` (masks OR-ed over rows, decoded at height x width). An id of the truth
// missing from the submission is an error listing them all; so is an id of the submission missing from
// the truth, unless options.ignore_extra. `extra` (if given) receives the skipped ids.
SubmissionScore score_submission(const data::RleLabels& submission, const data::RleLabels& truth,
                                 const ScoreOptions& options, std::vector<std::string>* extra = nullptr);

// The report: one "name: value" line per field, values with 6 decimals.
std::string score_text(const SubmissionScore& s);
// {"kaggle_dice":...,"dice_positive":...,"empty_accuracy":...,"empty_submission_dice":...,"images":...,
//  "positive_images":...} on one line, written by nlohmann-json (numbers that read back to the same double;
//  null for NaN), no newline.
std::string score_json(const SubmissionScore& s);

}  // namespace pleura::eval
