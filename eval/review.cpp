// Predictions to review (see review.h).
#include "eval/review.h"

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "engine/error.h"
#include "engine/interrupt.h"
#include "data/image_io.h"
#include "data/jobs.h"
#include "data/resize.h"
#include "eval/overlay.h"
#include "infer/inputs.h"
#include "train/metric.h"

namespace fs = std::filesystem;

namespace pleura::eval {
namespace {

bool any_on(const GrayImage& m) {
  return std::any_of(m.pixels.begin(), m.pixels.end(), [](uint8_t v) { return v != 0; });
}

// The X-rays of images_dir (except the overlays' folder, when inside it) by ImageId; every id of `ids`
// must have one.
std::unordered_map<std::string, infer::InferInput> xray_inputs(const std::string& images_dir,
                                                                const std::string& overlays_dir,
                                                                const std::vector<std::string>& ids) {
  std::unordered_map<std::string, infer::InferInput> by_id;
  for (const infer::InferInput& in : infer::find_inputs(images_dir, overlays_dir).images)
    by_id.emplace(in.image_id, in);
  std::vector<std::string> missing;
  for (const std::string& id : ids)
    if (!by_id.count(id)) missing.push_back(id);
  PLEURA_CHECK(missing.empty(), "overlays: ", missing.size(), " ImageId(s) have no image in '", images_dir, "' (",
               list_names(missing), ")");
  return by_id;
}

GrayImage load_xray(const infer::InferInput& in, int64_t height, int64_t width) {
  GrayImage x = infer::load_input(in, std::max(height, width));
  return height == width ? x : data::resize_bilinear(x, height, width);
}

float max_probability(const Tensor& map) {
  const float* p = map.data<float>();
  return *std::max_element(p, p + map.numel());
}

}  // namespace

double mask_dice(const GrayImage& predicted, const GrayImage& truth) {
  PLEURA_CHECK(predicted.height == truth.height && predicted.width == truth.width, "[mask_dice] predicted mask is ",
               predicted.height, "x", predicted.width, ", truth ", truth.height, "x", truth.width,
               "; they must have the same size");
  DiceCounts c;
  for (size_t i = 0; i < predicted.pixels.size(); ++i) {
    const bool p = predicted.pixels[i] != 0, t = truth.pixels[i] != 0;
    c.intersection += p && t;
    c.predicted += p;
    c.truth += t;
  }
  return image_dice(c);
}

ReviewEntry write_overlay(const std::string& dir, const ReviewImage& image) {
  ReviewEntry e;
  e.image_id = image.image_id;
  e.file = image.image_id + ".png";
  e.probability = image.probability;
  const bool predicted = any_on(image.predicted);
  if (image.truth) {
    e.dice = mask_dice(image.predicted, *image.truth);
    e.review_class = classify(predicted, any_on(*image.truth));
  } else {
    e.review_class = classify(predicted, std::nullopt);
  }
  const OverlayCaption caption{image.image_id, image.probability, e.dice, review_class_name(e.review_class)};
  const RgbImage overlay = render_overlay(image.xray, image.predicted, image.truth ? &*image.truth : nullptr,
                                          caption_lines(caption, image.xray.width));
  data::write_png_rgb((fs::path(dir) / e.file).string(), overlay);
  return e;
}

ReviewSummary write_review(const std::string& dir, const ReviewPage& page, int64_t count, int workers, bool truth,
                           const std::function<ReviewImage(int64_t)>& make) {
  fs::create_directories(dir);
  std::vector<ReviewEntry> entries(static_cast<size_t>(count));
  data::run_jobs(count, workers, [&](int64_t i) {
    // A polled stop (infer_unet's Ctrl-C) ends the overlays between images, before index.html.
    throw_if_stop_requested(cat("; the overlays in ", dir, " are partial and its index.html is not written"));
    entries[static_cast<size_t>(i)] = write_overlay(dir, make(i));
  });
  ReviewSummary s;
  s.images = count;
  s.truth = truth;
  s.dir = dir;
  for (const ReviewEntry& e : entries) {
    s.false_positives += e.review_class == ReviewClass::kFalsePositive;
    s.false_negatives += e.review_class == ReviewClass::kFalseNegative;
  }
  s.index = write_review_page(dir, std::move(entries), page);
  return s;
}

std::string review_summary_text(const ReviewSummary& s) {
  return cat("overlays of ", s.images, " images in ", s.dir,
             s.truth ? cat(" (", s.false_positives, " false positives, ", s.false_negatives, " false negatives)")
                     : std::string(),
             "; open ", s.index);
}

ReviewSummary review_maps(const ProbEnsemble& maps, const SubmitOptions& options, const MapReview& review) {
  const std::vector<std::string>& ids = maps.ids();
  const auto inputs = xray_inputs(review.images_dir, review.dir, ids);
  if (review.truth) {
    std::vector<std::string> missing;
    for (const std::string& id : ids)
      if (!review.truth->contains(id)) missing.push_back(id);
    PLEURA_CHECK(missing.empty(), "overlays: ", missing.size(), " ImageId(s) have no truth in ", review.truth->source(),
                 " (", list_names(missing), ")");
  }
  const int64_t H = options.out_height, W = options.out_width;
  const Triplet& t = options.triplet;
  const ReviewPage page{review.title, cat("Predicted masks: triplet (top ", t.top, ", area ", t.min_area, ", bottom ",
                                          t.bottom, ")", options.min_component ? cat(", components under ",
                                          options.min_component, " pixels removed") : std::string(), ", shown at ",
                                          H, "x", W, review.truth ? cat("; truth: ", review.truth->source()) : "")};
  const auto count = static_cast<int64_t>(ids.size());
  return write_review(review.dir, page, count, review.workers, review.truth != nullptr, [&](int64_t i) {
    const std::string& id = ids[static_cast<size_t>(i)];
    const Tensor map = maps.load(static_cast<size_t>(i));
    ReviewImage image{id, load_xray(inputs.at(id), H, W), submission_mask(map, options), std::nullopt,
                      max_probability(map)};
    if (review.truth) image.truth = review.truth->mask(id, H, W);
    return image;
  });
}

ReviewSummary review_submission(const data::RleLabels& submission, const data::RleLabels& truth, int64_t height,
                                int64_t width, const MapReview& review) {
  const std::vector<std::string>& ids = truth.ids();
  std::vector<std::string> missing;
  for (const std::string& id : ids)
    if (!submission.contains(id)) missing.push_back(id);
  PLEURA_CHECK(missing.empty(), "overlays: ", missing.size(), " ImageId(s) of ", truth.path(), " are not in ",
               submission.path(), " (", list_names(missing), ")");
  const auto inputs = xray_inputs(review.images_dir, review.dir, ids);
  const ReviewPage page{review.title, cat("Predicted masks: ", submission.path(), "; truth: ", truth.path(),
                                          "; shown at ", height, "x", width, " (no probabilities in a submission)")};
  return write_review(review.dir, page, static_cast<int64_t>(ids.size()), review.workers, true, [&](int64_t i) {
    const std::string& id = ids[static_cast<size_t>(i)];
    return ReviewImage{id, load_xray(inputs.at(id), height, width), submission.mask(id, height, width),
                       truth.mask(id, height, width), std::nullopt};
  });
}

}  // namespace pleura::eval
