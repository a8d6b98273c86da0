// Triplet search over a folder of probability maps, and its reports (see search.h).
#include "eval/search.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/parallel.h"
#include "engine/error.h"
#include "data/jobs.h"
#include "data/progress.h"
#include "infer/prob_map.h"
#include "eval/ensemble.h"

namespace pleura::eval {

using ordered_json = nlohmann::ordered_json;

FolderSearch search_prob_folder(const std::string& probs_dir, const TruthMasks& truth,
                                const std::vector<Triplet>& triplets, std::ostream& log, bool terminal,
                                int64_t batch) {
  PLEURA_CHECK(batch >= 1, "[search_prob_folder] batch is ", batch, ", expected >= 1");
  const auto start = std::chrono::steady_clock::now();
  const std::vector<infer::MapFile> maps = infer::list_prob_maps(probs_dir);
  std::vector<std::string> missing;
  for (const infer::MapFile& m : maps) {
    if (!truth.contains(m.image_id)) missing.push_back(m.image_id);
  }
  PLEURA_CHECK(missing.empty(), missing.size(), " of the ", maps.size(), " maps in ", probs_dir, " have no truth in ",
               truth.source(), ": ", list_names(missing));

  FolderSearch out;
  const Tensor first = infer::read_prob_map(maps[0].path);
  out.height = first.size(0);
  out.width = first.size(1);
  const int64_t H = out.height, W = out.width, n = static_cast<int64_t>(maps.size());
  TripletSearch search(triplets);
  data::Progress progress(log, "search_triplets", n, terminal);
  std::atomic<int64_t> positives{0};
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t b = std::min(batch, n - b0);
    Tensor scores = Tensor::empty({b, 1, H, W}, DType::kFloat32);
    Tensor labels = Tensor::empty({b, 1, H, W}, DType::kUInt8);
    float* s = scores.data<float>();
    uint8_t* t = labels.data<uint8_t>();
    // Maps in parallel, each into its own slot of the batch.
    data::run_jobs(b, num_threads(), [&](int64_t i) {
      const infer::MapFile& m = maps[static_cast<size_t>(b0 + i)];
      const Tensor map = infer::read_prob_map(m.path);
      PLEURA_CHECK(map.size(0) == H && map.size(1) == W, m.path, ": map of ", map.size(0), "x", map.size(1),
                   ", but ", maps[0].path, " is ", H, "x", W, " (search_triplets needs maps of one size)");
      std::copy_n(map.data<float>(), H * W, s + i * H * W);
      const GrayImage mask = truth.mask(m.image_id, H, W);
      bool any = false;
      for (int64_t k = 0; k < H * W; ++k) {
        t[i * H * W + k] = mask.pixels[static_cast<size_t>(k)] != 0;
        any |= t[i * H * W + k] != 0;
      }
      positives += any;
      progress.advance();
    });
    search.add(scores, labels);
  }
  progress.finish();
  out.result = search.result();
  out.images = n;
  out.positives = positives;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

namespace {

// A threshold as the JSON report writes it (shortest round-trip form: 0.6, not 0.600000).
std::string threshold_text(double t) { return ordered_json(t).dump(); }

}  // namespace

std::string search_table(const TripletSearchResult& r) {
  std::string text = "     top      area    bottom     score\n";
  char line[160];
  for (size_t k = 0; k < r.triplets.size(); ++k) {
    const Triplet& t = r.triplets[k];
    std::snprintf(line, sizeof line, "%8s %9lld %9s  %.6f%s\n", threshold_text(t.top).c_str(),
                  static_cast<long long>(t.min_area), threshold_text(t.bottom).c_str(), r.scores[k],
                  k == r.best ? "  <- best" : "");
    text += line;
  }
  const Triplet& b = r.best_triplet();
  std::snprintf(line, sizeof line, "best: top %s, area %lld, bottom %s, score %.6f\n", threshold_text(b.top).c_str(),
                static_cast<long long>(b.min_area), threshold_text(b.bottom).c_str(), r.best_score());
  return text + line;
}

namespace {

ordered_json triplet_json(const Triplet& t, double score) {
  ordered_json j;
  j["triplet"] = ordered_json::array({t.top, t.min_area, t.bottom});
  j["score"] = score;
  return j;
}

}  // namespace

std::string search_json(const TripletSearchResult& r) {
  ordered_json j;
  j["grid"] = ordered_json::array();
  for (size_t k = 0; k < r.triplets.size(); ++k) j["grid"].push_back(triplet_json(r.triplets[k], r.scores[k]));
  j["best"] = triplet_json(r.best_triplet(), r.best_score());
  return j.dump() + "\n";
}

}  // namespace pleura::eval
