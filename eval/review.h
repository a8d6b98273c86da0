// Predictions to review, for the tools: per image an overlay PNG (eval/overlay.h) written to a folder as
// <ImageId>.png, and the folder's index.html (eval/review_page.h). Two sources: probability maps through the
// triplet rule as rle_submit applies it (infer_unet --overlays, rle_submit --overlays), and a submission CSV
// against its truth (score_submission --overlays). The X-rays come from an image folder as infer_unet reads
// it (infer/inputs.h). Tests: tests/eval/test_overlay.cpp (write_overlay), tests/tools/test_review_tools.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "data/image.h"
#include "data/rle_csv.h"
#include "eval/ensemble.h"
#include "eval/review_page.h"
#include "eval/submission.h"
#include "eval/truth_masks.h"

namespace pleura::eval {

// One image to review; every mask has the X-ray's size.
struct ReviewImage {
  std::string image_id;
  GrayImage xray, predicted;
  std::optional<GrayImage> truth;
  std::optional<double> probability;  // the image's maximum probability
};

// The per-image dice of the Kaggle metric (train/metric.h image_dice): 1 when both masks are empty, about
// 0 when exactly one is. The masks must have the same size.
double mask_dice(const GrayImage& predicted, const GrayImage& truth);

// Renders `image` and writes <dir>/<ImageId>.png atomically; returns its entry for the page.
ReviewEntry write_overlay(const std::string& dir, const ReviewImage& image);

struct ReviewSummary {
  int64_t images = 0;
  bool truth = false;  // a truth was given: the counts below mean something
  int64_t false_positives = 0, false_negatives = 0;
  std::string dir;    // the overlays' folder
  std::string index;  // the path of index.html
};

// "overlays of N images in DIR (F false positives, G false negatives); open DIR/index.html" (no counts
// without a truth), for the tools' reports.
std::string review_summary_text(const ReviewSummary& s);

// Creates `dir`, writes the overlay of make(i) for every i in [0, count) on `workers` threads, then
// index.html. The first failure throws. `truth`: whether the images carry one.
ReviewSummary write_review(const std::string& dir, const ReviewPage& page, int64_t count, int workers, bool truth,
                           const std::function<ReviewImage(int64_t)>& make);

struct MapReview {
  std::string images_dir;            // the X-rays: a DICOM tree, PNG/JPEG folder or prepared cache
  const TruthMasks* truth = nullptr;  // optional
  std::string dir;                    // the output folder
  std::string title;
  int workers = 1;
};

// The overlays of every map of `maps`: the predicted mask is submission_mask(map, options) (the triplet
// rule, small components removed, brought to options.out_height x out_width, the overlays' size); the
// X-ray is read at that size; the truth (if given) decoded at that size, and the dice computed there.
// Throws, listing the ImageIds, when a map has no image in images_dir or no truth.
ReviewSummary review_maps(const ProbEnsemble& maps, const SubmitOptions& options, const MapReview& review);

// The overlays of a submission's masks against the truth's, both decoded at height x width, for every
// ImageId of the truth (each must be in the submission); no probability is known.
ReviewSummary review_submission(const data::RleLabels& submission, const data::RleLabels& truth, int64_t height,
                                int64_t width, const MapReview& review);

}  // namespace pleura::eval
