// Parsing numbers, lists and triplets given on the command line (see triplet_args.h).
#include "eval/triplet_args.h"

#include <charconv>
#include <cmath>

#include "data/csv.h"

namespace pleura::eval {

namespace {

constexpr int64_t kMaxArea = int64_t{1} << 40;

std::vector<std::string_view> split_items(const std::string& option, const std::string& text) {
  std::vector<std::string_view> items = data::split_fields(text);
  for (size_t k = 0; k < items.size(); ++k) {
    if (items[k].empty()) {
      throw Error(cat("option --", option, " '", text, "': item ", k + 1, " is empty"));
    }
  }
  return items;
}

// A probability threshold: a finite number in [0, 1], as the training config requires of its triplets.
double threshold_item(const std::string& option, const std::string& text, std::string_view item) {
  double v = 0;
  if (!parse_finite(item, v)) {
    double ignored = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), ignored);
    const bool too_large = ec == std::errc::result_out_of_range && end == item.data() + item.size();
    throw Error(cat("option --", option, " '", text, "': '", item, "' ",
                    too_large ? "is out of the range of a double" : "is not a number"));
  }
  if (!(v >= 0 && v <= 1)) {
    throw Error(cat("option --", option, " '", text, "': threshold ", item, " is not in [0, 1] (a probability)"));
  }
  return v;
}

int64_t area_item(const std::string& option, const std::string& text, std::string_view item) {
  int64_t v = 0;
  if (!data::parse_nonnegative(item, kMaxArea, v)) {
    throw Error(cat("option --", option, " '", text, "': '", item, "' is not an integer area in 0..", kMaxArea));
  }
  return v;
}

}  // namespace

bool parse_finite(std::string_view text, double& value) {
  if (text.empty()) return false;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return false;
  value = v;
  return true;
}

std::vector<double> parse_threshold_list(const std::string& option, const std::string& text) {
  std::vector<double> out;
  for (std::string_view item : split_items(option, text)) out.push_back(threshold_item(option, text, item));
  return out;
}

std::vector<int64_t> parse_area_list(const std::string& option, const std::string& text) {
  std::vector<int64_t> out;
  for (std::string_view item : split_items(option, text)) out.push_back(area_item(option, text, item));
  return out;
}

Triplet parse_triplet(const std::string& option, const std::string& text) {
  std::vector<std::string_view> items = split_items(option, text);
  if (items.size() != 3) {
    throw Error(cat("option --", option, " '", text, "' has ", items.size(),
                    " items, expected TOP,AREA,BOTTOM (e.g. 0.75,1000,0.3)"));
  }
  return {threshold_item(option, text, items[0]), area_item(option, text, items[1]),
          threshold_item(option, text, items[2])};
}

}  // namespace pleura::eval
