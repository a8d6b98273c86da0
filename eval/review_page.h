// The review page: one index.html over the overlay PNGs of eval/overlay.h, a grid of thumbnails (the full
// PNG shown small, linking to it) sorted worst first, each with a caption (ImageId, class, dice,
// probability). Plain HTML with inline CSS: it opens from disk in any browser, no server. Written by the
// tools through eval/review.h. Tests: tests/eval/test_review_page.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pleura::eval {

// What an image's predicted mask is against its truth. Without a truth, only the prediction is known.
enum class ReviewClass {
  kFalsePositive,  // FP: truth empty, mask predicted
  kFalseNegative,  // FN: truth not empty, prediction empty
  kTruePositive,   // TP: both not empty
  kTrueNegative,   // TN: both empty
  kPositive,       // POS: no truth, mask predicted
  kEmpty,          // NEG: no truth, prediction empty
};
const char* review_class_name(ReviewClass c);  // FP, FN, TP, TN, POS, NEG
ReviewClass classify(bool predicted_positive, std::optional<bool> truth_positive);

struct ReviewEntry {
  std::string image_id;
  std::string file;  // the overlay PNG, relative to the page's folder
  ReviewClass review_class = ReviewClass::kEmpty;
  std::optional<double> dice;         // per image, when a truth is known
  std::optional<double> probability;  // the image's maximum probability, when maps were read
};

// The page's order, worst first: false positives (highest probability first), false negatives (lowest
// probability first), true positives by ascending dice (then lowest probability), true negatives (highest
// probability first); images without a truth by descending probability. Ties by ImageId.
bool worse_first(const ReviewEntry& a, const ReviewEntry& b);

// &, <, >, " and ' as HTML entities.
std::string html_escape(std::string_view text);
// Every byte but A-Z a-z 0-9 - . _ ~ as %XX: a file name as a relative URL.
std::string url_escape(std::string_view text);

struct ReviewPage {
  std::string title;  // e.g. "infer_unet overlays of probs-test"
  std::string note;   // one line on how the masks were made, e.g. "triplet 0.75,1000,0.3"
};

// The page's HTML for `entries` in the given order.
std::string review_page_html(const std::vector<ReviewEntry>& entries, const ReviewPage& page);

// Sorts `entries` worst first and writes <dir>/index.html atomically; returns its path.
std::string write_review_page(const std::string& dir, std::vector<ReviewEntry> entries, const ReviewPage& page);

}  // namespace pleura::eval
