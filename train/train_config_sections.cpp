// The range-checking ConfigReader and the [augment], [scheduler] and [validation] readers
// (train/train_config_sections.h). Tests: tests/train/test_train_config.cpp.
#include "train/train_config_sections.h"

#include <set>
#include <sstream>
#include <tuple>

#include "engine/error.h"
#include "train/triplet_search.h"

namespace pleura {

int64_t ConfigReader::int_in(const std::string& s, const std::string& k, int64_t fallback, int64_t lo,
                             int64_t hi) const {
  if (!ini.has(s, k) && fallback != kRequiredInt) return fallback;
  const int64_t v = ini.get_int(s, k);  // a missing required key throws here
  PLEURA_CHECK(v >= lo && v <= hi, where(s, k), ": ", v, " out of range: expected ", lo, "..", hi);
  return v;
}

double ConfigReader::double_in(const std::string& s, const std::string& k, double fallback, double lo, double hi,
                               bool open_low) const {
  if (!ini.has(s, k) && fallback != kRequiredDouble) return fallback;
  const double v = ini.get_double(s, k);
  const bool low_ok = open_low ? v > lo : v >= lo;
  PLEURA_CHECK(low_ok && v <= hi, where(s, k), ": ", v, " out of range: expected ", open_low ? "(" : "[", lo, ", ",
               hi, "]");
  return v;
}

std::map<std::string, std::string> ConfigReader::origins() const {
  static const char* const kKeys[][2] = {
      {"run", "output"},   {"data", "cache"},  {"data", "images"},  {"data", "labels"},
      {"data", "size"},    {"folds", "file"},  {"folds", "number"}, {"folds", "use"},
      {"model", "name"},   {"init", "folder"}, {"sampler", "rate"}, {"sampler", "rate_start"},
      {"train", "epochs"}, {"model", "pretrained_encoder"}, {"run", "device"}};
  std::map<std::string, std::string> out;
  for (const auto& sk : kKeys)
    if (ini.has(sk[0], sk[1])) out[std::string(sk[0]) + "." + sk[1]] = ini.where(sk[0], sk[1]);
  return out;
}

void read_augment(const ConfigReader& r, TrainConfig& c) {
  augment::AugmentConfig& a = c.augment;  // defaults: the solution's pipeline
  auto prob = [&](const char* key, double& field) { field = r.double_in("augment", key, field, 0.0, 1.0); };
  auto non_negative = [&](const char* key, double& field) { field = r.double_in("augment", key, field, 0.0, 1e9); };
  prob("hflip.p", a.hflip.p);
  prob("intensity.p", a.intensity.p);
  non_negative("intensity.contrast.weight", a.intensity.contrast.weight);
  non_negative("intensity.contrast.limit", a.intensity.contrast.limit);
  non_negative("intensity.gamma.weight", a.intensity.gamma.weight);
  a.intensity.gamma.gamma_min =
      static_cast<int>(r.int_in("augment", "intensity.gamma.gamma_min", a.intensity.gamma.gamma_min, 1, 10000));
  a.intensity.gamma.gamma_max =
      static_cast<int>(r.int_in("augment", "intensity.gamma.gamma_max", a.intensity.gamma.gamma_max, 1, 10000));
  non_negative("intensity.brightness.weight", a.intensity.brightness.weight);
  non_negative("intensity.brightness.limit", a.intensity.brightness.limit);
  prob("distortion.p", a.distortion.p);
  non_negative("distortion.elastic.weight", a.distortion.elastic.weight);
  non_negative("distortion.elastic.alpha", a.distortion.elastic.alpha);
  non_negative("distortion.elastic.sigma", a.distortion.elastic.sigma);
  non_negative("distortion.elastic.alpha_affine", a.distortion.elastic.alpha_affine);
  non_negative("distortion.grid.weight", a.distortion.grid.weight);
  a.distortion.grid.num_steps =
      static_cast<int>(r.int_in("augment", "distortion.grid.num_steps", a.distortion.grid.num_steps, 1, 10000));
  non_negative("distortion.grid.distort_limit", a.distortion.grid.distort_limit);
  non_negative("distortion.optical.weight", a.distortion.optical.weight);
  non_negative("distortion.optical.distort_limit", a.distortion.optical.distort_limit);
  non_negative("distortion.optical.shift_limit", a.distortion.optical.shift_limit);
  prob("shift_scale_rotate.p", a.shift_scale_rotate.p);
  non_negative("shift_scale_rotate.shift_limit", a.shift_scale_rotate.shift_limit);
  a.shift_scale_rotate.scale_limit =
      r.double_in("augment", "shift_scale_rotate.scale_limit", a.shift_scale_rotate.scale_limit, 0.0, 0.999999);
  non_negative("shift_scale_rotate.rotate_limit", a.shift_scale_rotate.rotate_limit);
  a.size = c.size;
  try {
    augment::validate(a);  // the checks across fields (gamma_min <= gamma_max, a OneOf with weights)
  } catch (const Error& e) {
    throw_error(cat(r.ini.file_name(), ": ", e.what()));
  }
}

void read_scheduler(const ConfigReader& r, TrainConfig& c) {
  const std::string type = r.ini.get_string("scheduler", "type", "plateau");
  static const std::map<std::string, std::pair<SchedulerType, std::set<std::string>>> kTypes = {
      {"plateau", {SchedulerType::kPlateau, {"mode", "factor", "patience", "threshold", "min_lr"}}},
      {"cosine", {SchedulerType::kCosine, {"t_max", "eta_min"}}},
      {"warm_restarts", {SchedulerType::kWarmRestarts, {"t_0", "t_mult", "eta_min"}}}};
  auto it = kTypes.find(type);
  PLEURA_CHECK(it != kTypes.end(), r.where("scheduler", "type"), ": '", type,
               "': expected plateau (ReduceLROnPlateau), cosine (CosineAnnealingLR) or warm_restarts "
               "(CosineAnnealingWarmRestarts)");
  c.scheduler = it->second.first;
  for (const auto& [name, entry] : kTypes) {
    if (name == type) continue;
    for (const std::string& key : entry.second)
      PLEURA_CHECK(!r.ini.has("scheduler", key) || it->second.second.count(key), r.where("scheduler", key),
                   ": not a setting of type = ", type, " (it belongs to ", name, ")");
  }
  switch (c.scheduler) {
    case SchedulerType::kPlateau: {
      const std::string mode = r.ini.get_string("scheduler", "mode", "max");
      PLEURA_CHECK(mode == "max", r.where("scheduler", "mode"), ": '", mode,
                   "': only max (the validation score grows) is offered");
      c.plateau.factor = r.double_in("scheduler", "factor", c.plateau.factor, 0.0, 0.999999, true);
      c.plateau.patience = r.int_in("scheduler", "patience", c.plateau.patience, 0, 1000000);
      c.plateau.threshold = r.double_in("scheduler", "threshold", c.plateau.threshold, 0.0, 1.0);
      c.plateau.min_lr = r.double_in("scheduler", "min_lr", c.plateau.min_lr, 0.0, 10.0);
      break;
    }
    case SchedulerType::kCosine:
      c.cosine.t_max = r.int_in("scheduler", "t_max", c.cosine.t_max, 1, 1000000);
      c.cosine.eta_min = r.double_in("scheduler", "eta_min", c.cosine.eta_min, 0.0, 10.0);
      break;
    case SchedulerType::kWarmRestarts:
      c.warm_restarts.t_0 = r.int_in("scheduler", "t_0", c.warm_restarts.t_0, 1, 1000000);
      c.warm_restarts.t_mult = r.int_in("scheduler", "t_mult", c.warm_restarts.t_mult, 1, 1000);
      c.warm_restarts.eta_min = r.double_in("scheduler", "eta_min", c.warm_restarts.eta_min, 0.0, 10.0);
      break;
  }
}

namespace {

// "0.75 1000 0.3" -> a triplet; thresholds in [0, 1], an integer area >= 0.
Triplet parse_triplet(const std::string& item, size_t number, const std::string& where) {
  std::istringstream in(item);
  std::vector<std::string> parts;
  for (std::string p; in >> p;) parts.push_back(p);
  const std::string what = cat(where, ": item ", number, " '", item, "'");
  PLEURA_CHECK(parts.size() == 3, what, ": expected three numbers 'top area bottom', e.g. '0.75 1000 0.3'");
  auto number_of = [&](const std::string& text, const char* name) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    PLEURA_CHECK(*end == '\0', what, ": ", name, " '", text, "' is not a number");
    return v;
  };
  Triplet t;
  t.top = number_of(parts[0], "top");
  const double area = number_of(parts[1], "area");
  t.bottom = number_of(parts[2], "bottom");
  PLEURA_CHECK(t.top >= 0 && t.top <= 1, what, ": top ", t.top, " must be in [0, 1]");
  PLEURA_CHECK(t.bottom >= 0 && t.bottom <= 1, what, ": bottom ", t.bottom, " must be in [0, 1]");
  PLEURA_CHECK(area >= 0 && area <= 1e12 && area == static_cast<double>(static_cast<int64_t>(area)), what,
               ": area ", parts[1], " must be a whole number of pixels >= 0");
  t.min_area = static_cast<int64_t>(area);
  return t;
}

}  // namespace

void read_validation(const ConfigReader& r, TrainConfig& c) {
  c.validation_frequency = r.int_in("validation", "frequency", 1, 1, 1000000);
  const std::string average = r.ini.get_string("validation", "average", "per_image");
  if (average == "per_image") {
    c.average = ScoreAverage::kPerImage;
  } else if (average == "per_batch") {
    c.average = ScoreAverage::kPerBatch;
  } else {
    throw_error(cat(r.where("validation", "average"), ": '", average, "': expected per_image or per_batch"));
  }

  const bool listed = r.ini.has("validation", "triplets");
  const bool grid = r.ini.has("validation", "tops") || r.ini.has("validation", "areas") ||
                    r.ini.has("validation", "bottoms");
  PLEURA_CHECK(!(listed && grid), r.where("validation", "triplets"),
               ": give either triplets or tops + areas + bottoms, not both");
  std::string where = r.where("validation", "triplets");
  if (listed) {
    const std::vector<std::string> items = r.ini.get_strings("validation", "triplets");
    for (size_t i = 0; i < items.size(); ++i) c.triplets.push_back(parse_triplet(items[i], i + 1, where));
  } else if (grid) {
    const std::vector<double> tops = r.ini.get_doubles("validation", "tops");
    const std::vector<int64_t> areas = r.ini.get_ints("validation", "areas");
    const std::vector<double> bottoms = r.ini.get_doubles("validation", "bottoms");
    for (double t : tops) PLEURA_CHECK(t >= 0 && t <= 1, r.where("validation", "tops"), ": ", t, " not in [0, 1]");
    for (int64_t a : areas) PLEURA_CHECK(a >= 0, r.where("validation", "areas"), ": ", a, " is negative");
    for (double b : bottoms)
      PLEURA_CHECK(b >= 0 && b <= 1, r.where("validation", "bottoms"), ": ", b, " not in [0, 1]");
    c.triplets = triplet_grid(tops, areas, bottoms);
    where = r.where("validation", "tops");
  } else {
    c.triplets = config_triplets();
  }
  std::set<std::tuple<double, int64_t, double>> seen;
  for (const Triplet& t : c.triplets)
    PLEURA_CHECK(seen.insert({t.top, t.min_area, t.bottom}).second, where, ": triplet (", t.top, ", ", t.min_area,
                 ", ", t.bottom, ") is listed twice");
  std::set<float> thresholds;
  for (const Triplet& t : c.triplets) {
    thresholds.insert(static_cast<float>(t.top));
    thresholds.insert(static_cast<float>(t.bottom));
  }
  PLEURA_CHECK(thresholds.size() <= static_cast<size_t>(kMaxTripletThresholds), where, ": ", thresholds.size(),
               " distinct thresholds, at most ", kMaxTripletThresholds, " are allowed");
}

}  // namespace pleura
