// Triplet search from per-image threshold statistics, and its brute-force reference (train/triplet_search.h).
#include "train/triplet_search.h"

#include <algorithm>
#include <cmath>

namespace pleura {

namespace {

constexpr const char* kOp = "triplet_search";

void check_triplets(const std::vector<Triplet>& triplets) {
  PLEURA_CHECK(!triplets.empty(), "[", kOp, "] no triplets given");
  for (size_t k = 0; k < triplets.size(); ++k) {
    const Triplet& t = triplets[k];
    PLEURA_CHECK(!std::isnan(t.top) && !std::isnan(t.bottom), "[", kOp, "] triplet ", k, " has a NaN threshold");
    PLEURA_CHECK(t.min_area >= 0, "[", kOp, "] triplet ", k, " has min_area ", t.min_area, ", expected >= 0");
  }
}

TripletSearchResult pick_best(const std::vector<Triplet>& triplets, std::vector<double> scores) {
  TripletSearchResult r;
  r.triplets = triplets;
  r.scores = std::move(scores);
  // Strictly greater: on ties the first triplet in the list stays, as in the reference's search.
  for (size_t k = 1; k < r.scores.size(); ++k)
    if (r.scores[k] > r.scores[r.best]) r.best = k;
  return r;
}

}  // namespace

std::vector<Triplet> triplet_grid(const std::vector<double>& tops, const std::vector<int64_t>& areas,
                                  const std::vector<double>& bottoms) {
  std::vector<Triplet> out;
  for (double top : tops)
    for (int64_t area : areas)
      for (double bottom : bottoms) out.push_back({top, area, bottom});
  return out;
}

std::vector<Triplet> config_triplets() {
  return {{0.75, 1000, 0.3}, {0.75, 1000, 0.4}, {0.75, 2000, 0.3}, {0.75, 2000, 0.4},
          {0.6, 2000, 0.3},  {0.6, 2000, 0.4},  {0.6, 3000, 0.3},  {0.6, 3000, 0.4}};
}

TripletSearch::TripletSearch(std::vector<Triplet> triplets, MetricOptions options)
    : triplets_(std::move(triplets)), options_(options) {
  check_triplets(triplets_);
  for (const Triplet& t : triplets_) {
    thresholds_.push_back(static_cast<float>(t.top));
    thresholds_.push_back(static_cast<float>(t.bottom));
  }
  std::sort(thresholds_.begin(), thresholds_.end());
  thresholds_.erase(std::unique(thresholds_.begin(), thresholds_.end()), thresholds_.end());
  PLEURA_CHECK(static_cast<int>(thresholds_.size()) <= kMaxTripletThresholds, "[", kOp, "] ", thresholds_.size(),
               " distinct thresholds, at most ", kMaxTripletThresholds, " supported");
  auto index = [&](double v) {
    return static_cast<size_t>(std::lower_bound(thresholds_.begin(), thresholds_.end(), static_cast<float>(v)) -
                               thresholds_.begin());
  };
  for (const Triplet& t : triplets_) {
    top_index_.push_back(index(t.top));
    bottom_index_.push_back(index(t.bottom));
  }
}

void TripletSearch::add(const Tensor& scores, const Tensor& truth, ScoreKind kind) {
  Tensor stats = threshold_statistics(scores, &truth, thresholds_, kind);
  const int64_t* s = stats.data<int64_t>();
  stats_.insert(stats_.end(), s, s + stats.numel());
  images_ += stats.size(0);
}

void TripletSearch::add_statistics(const std::vector<int64_t>& rows) {
  const size_t cols = 2 * thresholds_.size() + 1;
  PLEURA_CHECK(rows.size() % cols == 0, "[", kOp, "] ", rows.size(), " statistics are not rows of ", cols,
               " (2 x ", thresholds_.size(), " thresholds + 1)");
  stats_.insert(stats_.end(), rows.begin(), rows.end());
  images_ += static_cast<int64_t>(rows.size() / cols);
}

std::vector<DiceCounts> TripletSearch::image_counts(size_t k) const {
  PLEURA_CHECK(k < triplets_.size(), "[", kOp, "] triplet ", k, " asked, there are ", triplets_.size());
  size_t u = thresholds_.size(), cols = 2 * u + 1;
  std::vector<DiceCounts> out(static_cast<size_t>(images_));
  for (size_t n = 0; n < out.size(); ++n) {
    const int64_t* row = &stats_[n * cols];
    DiceCounts c;
    c.truth = row[2 * u];
    // The triplet rule: empty when count(p > top) < min_area, else the mask p > bottom, whose pixels and
    // truth pixels are the counts above the bottom threshold.
    if (row[top_index_[k]] >= triplets_[k].min_area) {
      c.predicted = row[bottom_index_[k]];
      c.intersection = row[u + bottom_index_[k]];
    }
    out[n] = c;
  }
  return out;
}

TripletSearchResult TripletSearch::result() const {
  PLEURA_CHECK(images_ > 0, "[", kOp, "] no images were added");
  std::vector<double> scores(triplets_.size());
  std::vector<double> per_image(static_cast<size_t>(images_));
  for (size_t k = 0; k < triplets_.size(); ++k) {
    std::vector<DiceCounts> counts = image_counts(k);
    for (size_t n = 0; n < counts.size(); ++n) per_image[n] = image_dice(counts[n], options_.eps);
    scores[k] = average_scores(per_image, options_);
  }
  return pick_best(triplets_, std::move(scores));
}

TripletSearchResult search_triplets(const Tensor& scores, const Tensor& truth, const std::vector<Triplet>& triplets,
                                    const MetricOptions& options, ScoreKind kind) {
  TripletSearch search(triplets, options);
  search.add(scores, truth, kind);
  return search.result();
}

TripletSearchResult search_triplets_brute_force(const Tensor& scores, const Tensor& truth,
                                                const std::vector<Triplet>& triplets, const MetricOptions& options,
                                                ScoreKind kind) {
  check_triplets(triplets);
  std::vector<double> out;
  for (const Triplet& t : triplets) {
    Tensor masks = triplet_masks(scores, {t}, kind);
    out.push_back(average_scores(per_image_dice(masks, truth, options.eps), options));
  }
  return pick_best(triplets, std::move(out));
}

}  // namespace pleura
