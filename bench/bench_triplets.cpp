// Triplet search timing (train/triplet_search.h), CPU: the statistics search against the brute force
// (masks + metric per triplet, the reference's algorithm) run in the same process, on
//   1. 700 triplets x 24 images at 256x256 (the reference's Python brute force took 2.97 s on this machine),
//   2. the configs' 8 triplets on 2,000 images at 1024x1024, generated and searched chunk by chunk.
// Usage: bench_triplets [--images N] [--chunk N] [--runs N]. No GPU timing here (bench/cuda/ is engine-only).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/parallel.h"
#include "train/triplet_search.h"

using namespace pleura;

namespace {

constexpr double kReferenceSeconds = 2.97;  // the reference's search_deep_thresholds, 700 x 24 x 256^2

double seconds_of(const std::function<void()>& fn) {
  auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median_seconds(int runs, const std::function<void()>& fn) {
  fn();  // warm-up: page faults, thread pool
  std::vector<double> t;
  for (int r = 0; r < runs; ++r) t.push_back(seconds_of(fn));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// A cheap, seeded image generator: one soft blob per image (its amplitude and size vary, about a third of
// the images have no truth) plus noise read from a shared table at an image-dependent offset.
class Generator {
 public:
  Generator(int64_t h, int64_t w) : h_(h), w_(w), noise_(static_cast<size_t>(h * w)) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (float& v : noise_) v = 0.35f * static_cast<float>(next(s) >> 40) / static_cast<float>(1 << 24);
  }
  // Fills n images starting at image `first` into scores [n,1,h,w] float32 and truth [n,1,h,w] uint8.
  void fill(int64_t first, int64_t n, float* scores, uint8_t* truth) const {
    parallel_for(n, 1, [&](int64_t i0, int64_t i1) {
      std::vector<float> gy(static_cast<size_t>(h_)), gx(static_cast<size_t>(w_));
      for (int64_t i = i0; i < i1; ++i) {
        uint64_t s = 1234567ull + static_cast<uint64_t>(first + i) * 0x2545F4914F6CDD1Dull;
        double cy = uniform(s) * h_, cx = uniform(s) * w_, r = (0.03 + 0.2 * uniform(s)) * h_;
        float amp = static_cast<float>(0.4 + 0.6 * uniform(s));
        bool positive = uniform(s) < 0.65;
        for (int64_t y = 0; y < h_; ++y)
          gy[static_cast<size_t>(y)] = static_cast<float>(std::exp(-(y - cy) * (y - cy) / (r * r)));
        for (int64_t x = 0; x < w_; ++x)
          gx[static_cast<size_t>(x)] = static_cast<float>(std::exp(-(x - cx) * (x - cx) / (r * r)));
        size_t off = static_cast<size_t>(next(s) % noise_.size()), hw = noise_.size();
        float* p = scores + i * h_ * w_;
        uint8_t* t = truth + i * h_ * w_;
        for (int64_t y = 0; y < h_; ++y)
          for (int64_t x = 0; x < w_; ++x) {
            size_t k = static_cast<size_t>(y * w_ + x);
            float blob = gy[static_cast<size_t>(y)] * gx[static_cast<size_t>(x)];
            p[k] = std::min(1.0f, amp * blob + noise_[(k + off) % hw]);
            t[k] = positive && blob > 0.55f ? 255 : 0;
          }
      }
    });
  }

 private:
  static uint64_t next(uint64_t& s) {  // splitmix64
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  static double uniform(uint64_t& s) { return static_cast<double>(next(s) >> 11) / 9007199254740992.0; }
  int64_t h_, w_;
  std::vector<float> noise_;
};

struct Batch {
  Tensor scores, truth;
};

Batch make_batch(const Generator& gen, int64_t first, int64_t n, int64_t h, int64_t w) {
  Batch b{Tensor::empty({n, 1, h, w}), Tensor::empty({n, 1, h, w}, DType::kUInt8)};
  gen.fill(first, n, b.scores.data<float>(), b.truth.data<uint8_t>());
  return b;
}

void small_grid(int runs) {
  std::vector<double> tops, bottoms;
  std::vector<int64_t> areas;
  for (int i = 0; i < 7; ++i) tops.push_back(0.55 + 0.05 * i);
  for (int i = 0; i < 10; ++i) areas.push_back(250 * i);
  for (int i = 0; i < 10; ++i) bottoms.push_back(0.2 + 0.05 * i);
  std::vector<Triplet> grid = triplet_grid(tops, areas, bottoms);
  Generator gen(256, 256);
  Batch b = make_batch(gen, 0, 24, 256, 256);

  TripletSearchResult fast, brute;
  double t_fast = median_seconds(runs, [&] { fast = search_triplets(b.scores, b.truth, grid); });
  double t_stats = median_seconds(runs, [&] {
    TripletSearch s(grid);
    s.add(b.scores, b.truth);
  });
  double t_brute = median_seconds(1, [&] { brute = search_triplets_brute_force(b.scores, b.truth, grid); });
  bool same = fast.scores == brute.scores && fast.best == brute.best;
  const Triplet& best = fast.best_triplet();
  std::printf("1. %zu triplets x 24 images x 256x256 (%zu distinct thresholds), %d threads\n", grid.size(),
              tops.size() + bottoms.size(), num_threads());
  std::printf("   search (statistics + scoring)   %10.4f s   (statistics pass alone %.4f s)\n", t_fast, t_stats);
  std::printf("   brute force, same process       %10.4f s   -> search is %.0fx faster\n", t_brute, t_brute / t_fast);
  std::printf("   reference Python brute force    %10.4f s   -> search is %.0fx faster (other process)\n",
              kReferenceSeconds, kReferenceSeconds / t_fast);
  std::printf("   results identical: %s; best (%.2f, %lld, %.2f) score %.6f\n", same ? "yes" : "NO", best.top,
              static_cast<long long>(best.min_area), best.bottom, fast.best_score());
}

void large_set(int64_t images, int64_t chunk) {
  const int64_t h = 1024, w = 1024;
  std::vector<Triplet> grid = config_triplets();
  Generator gen(h, w);
  TripletSearch search(grid);
  double t_generate = 0.0, t_add = 0.0, t_brute_chunk = 0.0, t_search_chunk = 0.0;
  bool same = true;
  for (int64_t first = 0; first < images; first += chunk) {
    int64_t n = std::min(chunk, images - first);
    Batch b;
    t_generate += seconds_of([&] { b = make_batch(gen, first, n, h, w); });
    t_add += seconds_of([&] { search.add(b.scores, b.truth); });
    if (first == 0) {  // the in-process baseline on the first chunk
      TripletSearchResult fast, brute;
      t_search_chunk = seconds_of([&] { fast = search_triplets(b.scores, b.truth, grid); });
      t_brute_chunk = seconds_of([&] { brute = search_triplets_brute_force(b.scores, b.truth, grid); });
      same = fast.scores == brute.scores;
    }
  }
  TripletSearchResult r;
  double t_score = seconds_of([&] { r = search.result(); });
  double pixels = static_cast<double>(images) * h * w;
  std::printf("2. config grid (8 triplets) x %lld images x 1024x1024, chunks of %lld, %d threads\n",
              static_cast<long long>(images), static_cast<long long>(chunk), num_threads());
  std::printf("   statistics pass                 %10.3f s   (%.2f ns/pixel, %.2f Gpixel/s)\n", t_add,
              1e9 * t_add / pixels, pixels / t_add / 1e9);
  std::printf("   scoring the 8 triplets          %10.6f s\n", t_score);
  std::printf("   data generation (not counted)   %10.3f s\n", t_generate);
  std::printf("   first chunk: search %.3f s, brute force %.3f s -> %.1fx; identical: %s\n", t_search_chunk,
              t_brute_chunk, t_brute_chunk / t_search_chunk, same ? "yes" : "NO");
  const Triplet& best = r.best_triplet();
  std::printf("   best (%.2f, %lld, %.2f) score %.6f\n", best.top, static_cast<long long>(best.min_area), best.bottom,
              r.best_score());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int64_t images = 2000, chunk = 16;
    int runs = 5;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      PLEURA_CHECK(i + 1 < argc, "[bench_triplets] ", a, " needs a value");
      if (a == "--images")
        images = std::atoll(argv[++i]);
      else if (a == "--chunk")
        chunk = std::atoll(argv[++i]);
      else if (a == "--runs")
        runs = std::atoi(argv[++i]);
      else
        throw Error("[bench_triplets] unknown argument " + a + " (expected --images, --chunk, --runs)");
    }
    PLEURA_CHECK(images >= 1 && chunk >= 1 && runs >= 1, "[bench_triplets] --images, --chunk and --runs must be >= 1");
    small_grid(runs);
    large_set(images, chunk);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_triplets: %s\n", e.what());
    return 1;
  }
  return 0;
}
