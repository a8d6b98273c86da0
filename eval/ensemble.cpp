// Weighted ensembles of probability-map folders (see ensemble.h).
#include "eval/ensemble.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "engine/error.h"
#include "eval/triplet_args.h"

namespace pleura::eval {

WeightedFolder parse_weighted_folder(const std::string& text) {
  WeightedFolder f{text, 1.0};
  const size_t colon = text.rfind(':');
  double w = 0;
  if (colon != std::string::npos && parse_finite(std::string_view(text).substr(colon + 1), w)) {
    f.dir = text.substr(0, colon);
    f.weight = w;
  }
  PLEURA_CHECK(!f.dir.empty(), "probability folder '", text, "': the folder name is empty");
  PLEURA_CHECK(f.weight > 0, "probability folder '", text, "': weight ", f.weight, ", expected a number > 0");
  return f;
}

std::string list_names(const std::vector<std::string>& names, size_t limit) {
  std::string out;
  for (size_t k = 0; k < names.size() && k < limit; ++k) out += cat(k ? ", " : "", names[k]);
  if (names.size() > limit) out += cat(" and ", names.size() - limit, " more");
  return out;
}

ProbEnsemble::ProbEnsemble(std::vector<WeightedFolder> folders) : folders_(std::move(folders)) {
  PLEURA_CHECK(!folders_.empty(), "[ensemble] no probability folder given");
  double total = 0;
  for (const WeightedFolder& f : folders_) {
    PLEURA_CHECK(std::isfinite(f.weight) && f.weight > 0, "[ensemble] folder ", f.dir, " has weight ", f.weight,
                 ", expected a finite number > 0");
    total += f.weight;
  }
  std::vector<std::vector<std::string>> ids(folders_.size());
  for (size_t k = 0; k < folders_.size(); ++k) {
    weights_.push_back(static_cast<float>(folders_[k].weight / total));
    std::vector<std::string> paths;
    for (infer::MapFile& m : infer::list_prob_maps(folders_[k].dir)) {
      ids[k].push_back(std::move(m.image_id));
      paths.push_back(std::move(m.path));
    }
    paths_.push_back(std::move(paths));
  }
  // Every folder against the first: the ids it lacks and those it adds (both lists are sorted).
  for (size_t k = 1; k < folders_.size(); ++k) {
    if (ids[k] == ids[0]) continue;
    std::vector<std::string> lacks, adds;
    std::set_difference(ids[0].begin(), ids[0].end(), ids[k].begin(), ids[k].end(), std::back_inserter(lacks));
    std::set_difference(ids[k].begin(), ids[k].end(), ids[0].begin(), ids[0].end(), std::back_inserter(adds));
    std::string msg = cat("[ensemble] the probability folders hold different ImageIds: ", folders_[k].dir);
    if (!lacks.empty()) msg += cat(" lacks ", lacks.size(), " of ", folders_[0].dir, " (", list_names(lacks), ")");
    if (!adds.empty()) {
      msg += cat(lacks.empty() ? "" : " and", " holds ", adds.size(), " not in ", folders_[0].dir, " (",
                 list_names(adds), ")");
    }
    throw_error(msg);
  }
  ids_ = std::move(ids[0]);
}

Tensor ProbEnsemble::load(size_t index) const {
  PLEURA_CHECK(index < ids_.size(), "[ensemble] image ", index, " asked, there are ", ids_.size());
  Tensor acc = infer::read_prob_map(paths_[0][index]);
  const int64_t H = acc.size(0), W = acc.size(1), n = H * W;
  float* a = acc.data<float>();
  const float w0 = weights_[0];
  // p * 1.0f is p exactly: a single folder returns its maps unchanged.
  for (int64_t i = 0; i < n; ++i) a[i] = a[i] * w0;
  for (size_t k = 1; k < folders_.size(); ++k) {
    Tensor map = infer::read_prob_map(paths_[k][index]);
    PLEURA_CHECK(map.size(0) == H && map.size(1) == W, "[ensemble] ImageId '", ids_[index], "': its map is ", H,
                 "x", W, " in ", folders_[0].dir, " but ", map.size(0), "x", map.size(1), " in ", folders_[k].dir);
    const float* p = map.data<float>();
    const float w = weights_[k];
    // Two float32 roundings (product, then sum), as numpy's mask_dict[name] + mask * weight. Pleura builds
    // without -mfma, so the compiler cannot fuse them.
    for (int64_t i = 0; i < n; ++i) {
      const float product = p[i] * w;
      a[i] = a[i] + product;
    }
  }
  return acc;
}

}  // namespace pleura::eval
