// Weighted ensembles of probability-map folders (rle_submit --probs DIR[:WEIGHT] ...): every folder must
// hold the same ImageIds with maps of the same size, and the ensemble map of an image is the weighted
// sum of its maps, weights normalised to sum 1. Tests: tests/eval/test_ensemble.cpp.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "infer/prob_map.h"

namespace pleura::eval {

struct WeightedFolder {
  std::string dir;
  double weight = 1.0;
};

// "DIR" (weight 1) or "DIR:WEIGHT": the text after the last ':' is the weight when it parses as a
// whole number (e.g. "fold0:0.3"), otherwise the whole text is the folder. The weight must be a finite
// number > 0. A folder whose own name ends in ":<number>" is written with an explicit weight ("odd:3:1").
WeightedFolder parse_weighted_folder(const std::string& text);

// Lists of names for error messages: "a, b, c" and, past `limit`, " and N more".
std::string list_names(const std::vector<std::string>& names, size_t limit = 10);

class ProbEnsemble {
 public:
  // Lists every folder (infer::list_prob_maps). Throws when a weight is not finite and > 0, or when the folders
  // do not hold the same ImageIds (the message names the folders and the ids that differ).
  explicit ProbEnsemble(std::vector<WeightedFolder> folders);

  const std::vector<std::string>& ids() const { return ids_; }  // sorted
  size_t folders() const { return folders_.size(); }
  // The normalised weights, float32 as they multiply the maps.
  const std::vector<float>& weights() const { return weights_; }
  // Path of image `index`'s map in folder `folder`.
  const std::string& path(size_t folder, size_t index) const { return paths_[folder][index]; }

  // The ensemble map of ids()[index], float32 [H, W]: acc = p_0 * w_0, then acc = acc + p_k * w_k in
  // folder order, each product and sum rounded to float32 (the order and precision of the reference's
  // TripletSubmit.load_mask_dict, so one folder of weight 1 gives its maps back bit for bit). Throws,
  // naming the ImageId and both folders, when the maps' sizes differ.
  Tensor load(size_t index) const;

 private:
  std::vector<WeightedFolder> folders_;
  std::vector<float> weights_;
  std::vector<std::string> ids_;
  std::vector<std::vector<std::string>> paths_;  // [folder][image]
};

}  // namespace pleura::eval
