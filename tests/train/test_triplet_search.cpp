// Tests of the triplet search (train/triplet_search.h): equal to the brute force (masks + metric) and to
// plain loops on random data with a 500-triplet grid, empty truths and ties; streaming; logit inputs;
// CPU-vs-CUDA equality; bad input.
#include <cmath>

#include "tests/testing.h"
#include "train/triplet_search.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

struct Data {
  Tensor scores;  // float32 [N, 1, H, W] probabilities
  Tensor truth;   // uint8 [N, 1, H, W], 0 or 255
};

// Images with one soft blob of probability plus noise; the truth is a disc inside the blob on "positive"
// images and empty on the others (about a third), so false positives and empty/empty pairs both occur.
// A tenth of the pixels are snapped to the grid's float32 thresholds, to exercise p == threshold.
Data make_data(int64_t n, int64_t h, int64_t w, uint64_t seed, const std::vector<double>& snap) {
  Rng rng(seed);
  std::vector<double> p(static_cast<size_t>(n * h * w)), t(p.size());
  for (int64_t i = 0; i < n; ++i) {
    double cy = rng.uniform(0, h), cx = rng.uniform(0, w), r = rng.uniform(2, h / 3.0), amp = rng.uniform(0.3, 1.0);
    bool positive = rng.uniform() < 0.65;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        size_t k = static_cast<size_t>((i * h + y) * w + x);
        double d2 = ((y - cy) * (y - cy) + (x - cx) * (x - cx)) / (r * r);
        double v = amp * std::exp(-d2) + rng.uniform(0, 0.3);
        if (rng.uniform() < 0.1) v = static_cast<float>(snap[rng.below(snap.size())]);
        p[k] = std::min(1.0, v);
        t[k] = positive && d2 < 0.6 ? 255 : 0;
      }
  }
  return {Tensor::from_vector(p, {n, 1, h, w}), Tensor::from_vector(t, {n, 1, h, w}, DType::kUInt8)};
}

std::vector<double> grid_tops() { return {0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95}; }
std::vector<double> grid_bottoms() { return {0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.75}; }

// Plain loops: the score of one triplet, straight from the definitions.
double naive_score(const Data& d, const Triplet& t, const MetricOptions& opt) {
  const float* p = d.scores.data<float>();
  const uint8_t* g = d.truth.data<uint8_t>();
  int64_t n = d.scores.size(0), hw = d.scores.size(2) * d.scores.size(3);
  std::vector<double> per_image;
  for (int64_t i = 0; i < n; ++i) {
    int64_t above = 0;
    for (int64_t k = 0; k < hw; ++k) above += p[i * hw + k] > static_cast<float>(t.top);
    DiceCounts c;
    for (int64_t k = 0; k < hw; ++k) {
      bool on = above >= t.min_area && p[i * hw + k] > static_cast<float>(t.bottom);
      bool truth = g[i * hw + k] != 0;
      c.predicted += on;
      c.truth += truth;
      c.intersection += on && truth;
    }
    per_image.push_back(image_dice(c, opt.eps));
  }
  return average_scores(per_image, opt);
}

size_t first_best(const std::vector<double>& s) {
  size_t b = 0;
  for (size_t k = 1; k < s.size(); ++k)
    if (s[k] > s[b]) b = k;
  return b;
}

}  // namespace

TEST_CASE("triplet_search: grid order is tops, then areas, then bottoms; the configs' grid") {
  std::vector<Triplet> g = triplet_grid({0.7, 0.6}, {10, 20}, {0.3, 0.4});
  REQUIRE(g.size() == 8);
  CHECK(g[1].top == 0.7);
  CHECK(g[1].min_area == 10);
  CHECK(g[1].bottom == 0.4);
  CHECK(g[2].min_area == 20);
  CHECK(g[4].top == 0.6);
  std::vector<Triplet> c = config_triplets();
  REQUIRE(c.size() == 8);
  CHECK(c[3].top == 0.75);
  CHECK(c[3].min_area == 2000);
  CHECK(c[3].bottom == 0.4);
  CHECK(c[6].top == 0.6);
  CHECK(c[6].min_area == 3000);
}

TEST_CASE("triplet_search: equals the brute force and plain loops on a 500-triplet grid") {
  std::vector<double> snap = grid_tops(), bottoms = grid_bottoms();
  snap.insert(snap.end(), bottoms.begin(), bottoms.end());
  Data d = make_data(13, 48, 56, 101, snap);
  std::vector<Triplet> grid = triplet_grid(grid_tops(), {0, 1, 40, 150, 400}, grid_bottoms());
  REQUIRE(grid.size() == 500);
  MetricOptions per_batch;
  per_batch.average = ScoreAverage::kPerBatch;
  per_batch.batch_size = 3;  // 13 images: a short last batch
  for (const MetricOptions& opt : {MetricOptions{}, per_batch}) {
    CAPTURE(static_cast<int>(opt.average));
    TripletSearchResult fast = search_triplets(d.scores, d.truth, grid, opt);
    TripletSearchResult brute = search_triplets_brute_force(d.scores, d.truth, grid, opt);
    // Identical, not close: both score the same integer counts with the same code (image_dice, average_scores).
    CHECK(fast.scores == brute.scores);
    CHECK(fast.best == brute.best);
    CHECK(fast.best == first_best(brute.scores));
    for (size_t k = 0; k < grid.size(); k += 7) CHECK(fast.scores[k] == naive_score(d, grid[k], opt));
    // The data must make the test able to fail: scores spread out, and ties exist (area 0 versus area 1
    // with the same top and bottom tie whenever every image has a pixel above the top).
    double lo = *std::min_element(fast.scores.begin(), fast.scores.end());
    double hi = *std::max_element(fast.scores.begin(), fast.scores.end());
    CHECK(hi - lo > 0.1);
    int ties = 0;
    for (size_t k = 0; k < grid.size(); ++k) ties += grid[k].min_area == 1 && fast.scores[k] == fast.scores[k - 10];
    CHECK(ties >= 10);
    // The best is strictly above every triplet before it, and at least as good as every one after.
    for (size_t k = 0; k < grid.size(); ++k) {
      if (k < fast.best) CHECK(fast.scores[k] < fast.best_score());
      if (k > fast.best) CHECK(fast.scores[k] <= fast.best_score());
    }
  }
  // The data holds empty truths (scored 1 or ~0) and non-empty ones.
  TripletSearch s(grid);
  s.add(d.scores, d.truth);
  std::vector<DiceCounts> c = s.image_counts(0);
  int64_t empty = 0;
  for (const DiceCounts& e : c) empty += e.truth == 0;
  CHECK(empty >= 2);
  CHECK(empty <= 11);
}

TEST_CASE("triplet_search: ties go to the first triplet in the list") {
  Data d = make_data(4, 32, 32, 7, {0.5});
  // X, Y, X, Y: the best is whichever of X and Y scores higher, at its first position.
  Triplet x{0.6, 10, 0.3}, y{0.7, 50, 0.45};
  TripletSearchResult r = search_triplets(d.scores, d.truth, {x, y, x, y});
  REQUIRE(r.scores[0] != r.scores[1]);  // else the check below could not fail
  CHECK(r.scores[0] == r.scores[2]);
  CHECK(r.scores[1] == r.scores[3]);
  CHECK(r.best == (r.scores[1] > r.scores[0] ? 1u : 0u));
  // Two different triplets that both predict nothing tie exactly; the first is kept.
  TripletSearchResult e = search_triplets(d.scores, d.truth, {{0.99, 100000, 0.99}, {0.98, 100000, 0.2}, x});
  CHECK(e.scores[0] == e.scores[1]);
  CHECK(e.best == (e.scores[2] > e.scores[0] ? 2u : 0u));
  TripletSearchResult f = search_triplets(d.scores, d.truth, {{0.99, 100000, 0.99}, {0.98, 100000, 0.2}});
  CHECK(f.best == 0);
}

TEST_CASE("triplet_search: statistics accumulate image by image") {
  Data d = make_data(13, 40, 40, 55, {0.3, 0.75});
  std::vector<Triplet> grid = triplet_grid({0.6, 0.75}, {0, 30, 200}, {0.3, 0.4});
  MetricOptions per_batch;
  per_batch.average = ScoreAverage::kPerBatch;
  per_batch.batch_size = 2;
  TripletSearch whole(grid, per_batch), parts(grid, per_batch);
  whole.add(d.scores, d.truth);
  // Batches of 5, 7 and 1 images, cut from the same data (batch boundaries of the metric stay at 2).
  std::vector<double> p = d.scores.to_vector(), t = d.truth.to_vector();
  int64_t hw = 40 * 40, start = 0;
  for (int64_t len : {5, 7, 1}) {
    std::vector<double> ps(p.begin() + start * hw, p.begin() + (start + len) * hw);
    std::vector<double> ts(t.begin() + start * hw, t.begin() + (start + len) * hw);
    parts.add(Tensor::from_vector(ps, {len, 1, 40, 40}), Tensor::from_vector(ts, {len, 1, 40, 40}, DType::kUInt8));
    start += len;
  }
  CHECK(parts.images() == 13);
  CHECK(parts.result().scores == whole.result().scores);
  CHECK(whole.result().scores == search_triplets_brute_force(d.scores, d.truth, grid, per_batch).scores);
}

TEST_CASE("triplet_search: logits and float truth") {
  Data d = make_data(6, 30, 30, 77, {0.5});
  // Logits of the probabilities (clamped away from 0 and 1), float32 truth in {0, 1}.
  std::vector<double> p = d.scores.to_vector(), t = d.truth.to_vector();
  for (double& v : p) v = std::log(std::max(v, 1e-6) / std::max(1 - v, 1e-6));
  for (double& v : t) v = v > 0 ? 1.0 : 0.0;
  Tensor logits = Tensor::from_vector(p, {6, 1, 30, 30}), truth = Tensor::from_vector(t, {6, 1, 30, 30});
  std::vector<Triplet> grid = triplet_grid({0.6, 0.75}, {0, 20}, {0.3, 0.4, 0.5});
  TripletSearchResult fast = search_triplets(logits, truth, grid, {}, ScoreKind::kLogit);
  TripletSearchResult brute = search_triplets_brute_force(logits, truth, grid, {}, ScoreKind::kLogit);
  CHECK(fast.scores == brute.scores);
  CHECK(fast.best == brute.best);
}

TEST_CASE("triplet_search: bad input") {
  expect_error([] { TripletSearch s({}); }, {"[triplet_search]", "no triplets"});
  expect_error([] { TripletSearch s({{0.5, -3, 0.3}}); }, {"[triplet_search]", "min_area -3"});
  expect_error([] { TripletSearch s({{std::nan(""), 3, 0.3}}); }, {"[triplet_search]", "NaN"});
  TripletSearch s(config_triplets());
  expect_error([&] { s.result(); }, {"[triplet_search]", "no images"});
  expect_error(
      [&] {
        s.add(Tensor::zeros({2, 1, 8, 8}), Tensor::zeros({2, 1, 8, 9}, DType::kUInt8));
      },
      {"[threshold_statistics]", "[2, 1, 8, 9]"});
  expect_error([&] { s.image_counts(8); }, {"[triplet_search]", "triplet 8"});
}

TEST_CASE("triplet_search: CPU vs CUDA, exactly equal" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  std::vector<double> snap = grid_tops(), bottoms = grid_bottoms();
  snap.insert(snap.end(), bottoms.begin(), bottoms.end());
  Data d = make_data(9, 96, 80, 303, snap);
  std::vector<Triplet> grid = triplet_grid(grid_tops(), {0, 1, 40, 150, 400}, grid_bottoms());
  Tensor gs = d.scores.to(Device::cuda()), gt = d.truth.to(Device::cuda());
  TripletSearchResult cpu = search_triplets(d.scores, d.truth, grid);
  TripletSearchResult gpu = search_triplets(gs, gt, grid);
  CHECK(gpu.scores == cpu.scores);
  CHECK(gpu.best == cpu.best);
  std::vector<Triplet> some(grid.begin(), grid.begin() + 60);
  CHECK(search_triplets_brute_force(gs, gt, some).scores ==
        search_triplets_brute_force(d.scores, d.truth, some).scores);
}
