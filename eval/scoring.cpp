// Scores of a submission against the truth (see scoring.h).
#include "eval/scoring.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "engine/parallel.h"
#include "engine/error.h"
#include "data/jobs.h"
#include "train/metric.h"
#include "eval/ensemble.h"

namespace pleura::eval {

namespace {

// The decoded mask as the uint8 tensor [1, H*W] that train/metric.h counts.
Tensor mask_tensor(const GrayImage& mask) {
  Tensor t = Tensor::empty({1, mask.height * mask.width}, DType::kUInt8);
  std::memcpy(t.data<uint8_t>(), mask.pixels.data(), mask.pixels.size());
  return t;
}

}  // namespace

SubmissionScore score_submission(const data::RleLabels& submission, const data::RleLabels& truth,
                                 const ScoreOptions& options, std::vector<std::string>* extra) {
  PLEURA_CHECK(!truth.ids().empty(), truth.path(), ": no ImageId to score");
  std::vector<std::string> missing, extras;
  for (const std::string& id : truth.ids()) {
    if (!submission.contains(id)) missing.push_back(id);
  }
  PLEURA_CHECK(missing.empty(), missing.size(), " ImageId(s) of ", truth.path(), " have no row in ", submission.path(),
               ": ", list_names(missing));
  for (const std::string& id : submission.ids()) {
    if (!truth.contains(id)) extras.push_back(id);
  }
  PLEURA_CHECK(extras.empty() || options.ignore_extra, extras.size(), " ImageId(s) of ", submission.path(),
               " are not in ", truth.path(), ": ", list_names(extras), " (--ignore-extra skips them)");
  if (extra) *extra = extras;

  const int64_t n = static_cast<int64_t>(truth.ids().size());
  std::vector<DiceCounts> counts(static_cast<size_t>(n));
  // Images in parallel; each writes its own entry, and the sums below run in a fixed order.
  data::run_jobs(n, num_threads(), [&](int64_t i) {
    const std::string& id = truth.ids()[static_cast<size_t>(i)];
    const Tensor p = mask_tensor(submission.mask(id, options.height, options.width));
    const Tensor t = mask_tensor(truth.mask(id, options.height, options.width));
    counts[static_cast<size_t>(i)] = dice_counts(p, t)[0];
  });

  SubmissionScore s;
  s.images = n;
  std::vector<double> dice, dice_pos, empty_dice;
  int64_t agree = 0;
  for (const DiceCounts& c : counts) {
    dice.push_back(image_dice(c));
    empty_dice.push_back(image_dice({0, 0, c.truth}));
    if (c.truth > 0) dice_pos.push_back(dice.back());
    s.positive_images += c.truth > 0;
    s.predicted_positive += c.predicted > 0;
    agree += (c.truth > 0) == (c.predicted > 0);
  }
  s.kaggle_dice = average_scores(dice);
  s.dice_positive = dice_pos.empty() ? std::numeric_limits<double>::quiet_NaN() : average_scores(dice_pos);
  s.empty_accuracy = static_cast<double>(agree) / static_cast<double>(n);
  s.empty_submission_dice = average_scores(empty_dice);
  return s;
}

std::string score_text(const SubmissionScore& s) {
  char buffer[512];
  auto fixed = [](double v) -> std::string {
    if (std::isnan(v)) return "n/a (no positive image)";
    char b[32];
    std::snprintf(b, sizeof b, "%.6f", v);
    return b;
  };
  std::snprintf(buffer, sizeof buffer,
                "images: %lld (%lld with a non-empty truth, %lld predicted non-empty)\n"
                "kaggle_dice: %s\ndice_positive: %s\nempty_accuracy: %s\nempty_submission_dice: %s\n",
                static_cast<long long>(s.images), static_cast<long long>(s.positive_images),
                static_cast<long long>(s.predicted_positive), fixed(s.kaggle_dice).c_str(),
                fixed(s.dice_positive).c_str(), fixed(s.empty_accuracy).c_str(),
                fixed(s.empty_submission_dice).c_str());
  return buffer;
}

std::string score_json(const SubmissionScore& s) {
  nlohmann::ordered_json j;
  j["kaggle_dice"] = s.kaggle_dice;
  j["dice_positive"] = s.dice_positive;  // NaN (no positive image) is written as null
  j["empty_accuracy"] = s.empty_accuracy;
  j["empty_submission_dice"] = s.empty_submission_dice;
  j["images"] = s.images;
  j["positive_images"] = s.positive_images;
  return j.dump();
}

}  // namespace pleura::eval
