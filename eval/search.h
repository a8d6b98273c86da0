// The library behind search_triplets: the fast triplet search (train/triplet_search.h) over a folder of
// probability maps against truth masks, streamed in batches so a validation set never sits in memory at
// once, and its report as a table and as JSON. Scores are Kaggle scores: per-image dice (empty/empty = 1)
// averaged over images (the reference's validation averaged per batch first; Pleura does not). The
// command line is tools/search_triplets.cpp. Tests: tests/tools/test_search_triplets.cpp (the hand-worked
// grid, equality with the brute force, batches, errors).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "eval/truth_masks.h"
#include "train/triplet_search.h"

namespace pleura::eval {

struct FolderSearch {
  TripletSearchResult result;
  int64_t images = 0;
  int64_t height = 0, width = 0;  // the maps' size
  int64_t positives = 0;          // images whose truth (at the maps' size) is not empty
  double seconds = 0;
};

// Scores every triplet on the maps of `probs_dir` (infer/prob_map.h; all of one size) against `truth`.
// Throws when a map has no truth (listing every such ImageId) or a map's size differs from the first's.
FolderSearch search_prob_folder(const std::string& probs_dir, const TruthMasks& truth,
                                const std::vector<Triplet>& triplets, std::ostream& log, bool terminal = false,
                                int64_t batch = 16);

// One row per triplet ("top area bottom score", score with 6 decimals), then the best.
std::string search_table(const TripletSearchResult& r);
// {"grid":[{"triplet":[top,area,bottom],"score":s},...],"best":{"triplet":[...],"score":s}} on one line,
// written by nlohmann-json (numbers in a form that reads back to the same double, 1.0 for a whole one;
// NaN as null), and a final newline.
std::string search_json(const TripletSearchResult& r);

}  // namespace pleura::eval
