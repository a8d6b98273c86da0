// Data-pipeline timing (data/augment/, data/loader.*): decoded-and-augmented 1024x1024 samples per
// second on one core, per transform and for the solution's whole chain, then through the threaded
// Loader with several workers. Usage: bench_loader [--samples N] [--workers W]
//
// "Decoded" here means copied from an in-memory 8-bit image (a synthetic chest-like picture and a blob
// mask, made once): no file reading and no DICOM/PNG decoding are included. Each sample pays the copy,
// the augmentations, the normalisation to float32 and, in the Loader, the batch assembly. Baseline, run
// in the same process: the copy + normalisation alone (the work every sample does with no augmentation).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

#include "engine/random.h"
#include "data/augment/elastic.h"
#include "data/augment/flip.h"
#include "data/augment/grid_distortion.h"
#include "data/augment/intensity.h"
#include "data/augment/normalize.h"
#include "data/augment/optical_distortion.h"
#include "data/augment/pipeline.h"
#include "data/augment/shift_scale_rotate.h"
#include "data/loader.h"
#include "data/resize.h"
#include "data/sampler.h"

using namespace pleura;
using namespace pleura::augment;

namespace {

constexpr int64_t kSize = 1024;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
// CPU time of the calling thread: the per-core figures use it, so that other processes on a shared
// machine do not inflate them (wall time is reported for the Loader).
double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// A smooth, chest-like grey picture with noise, and an elliptic 0/255 blob as the mask.
Sample make_sample() {
  Sample s{GrayImage(kSize, kSize), GrayImage(kSize, kSize, 0)};
  Rng rng(1);
  for (int64_t y = 0; y < kSize; ++y)
    for (int64_t x = 0; x < kSize; ++x) {
      const double u = (x - 512.0) / 512.0, v = (y - 480.0) / 512.0;
      const double lung = std::exp(-4.0 * ((std::fabs(u) - 0.45) * (std::fabs(u) - 0.45) + 0.5 * v * v));
      s.image.at(y, x) = static_cast<uint8_t>(std::clamp(200.0 - 120.0 * lung + 8.0 * rng.normal(), 0.0, 255.0));
      if ((u - 0.4) * (u - 0.4) / 0.02 + (v + 0.3) * (v + 0.3) / 0.05 < 1.0) s.mask.at(y, x) = 255;
    }
  return s;
}

// Seconds per call of fn(sample, rng), the copy of the sample from memory included; median of `reps`.
double time_per_call(const Sample& base, int reps, const std::function<void(Sample&, Rng&)>& fn) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    Rng rng(static_cast<uint64_t>(r) + 7);
    const double t0 = thread_cpu();
    Sample s = base;
    fn(s, rng);
    t.push_back(thread_cpu() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 60;
  int workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--samples") == 0) samples = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--workers") == 0) workers = std::atoi(argv[i + 1]);
  }
  const Sample base = make_sample();
  std::vector<float> img_out(3 * kSize * kSize), mask_out(kSize * kSize);
  auto normalise = [&](Sample& s) {
    write_image_chw(s.image, Normalization::kUnit, img_out.data());
    write_mask(s.mask, mask_out.data());
  };

  std::printf("bench_loader: 1024x1024 samples from memory (no file decoding); per-sample times are thread CPU time on one core\n");
  const double baseline = time_per_call(base, 15, [&](Sample& s, Rng&) { normalise(s); });
  std::printf("%-44s %9.2f ms  %8.1f samples/s  (baseline)\n", "copy + normalise (unit)", 1e3 * baseline, 1.0 / baseline);

  struct Item {
    const char* name;
    std::function<void(Sample&, Rng&)> fn;
  };
  const AugmentConfig cfg;
  const std::vector<Item> items = {
      {"hflip (image + mask)", [](Sample& s, Rng&) { hflip(s.image), hflip(s.mask); }},
      {"contrast", [](Sample& s, Rng&) { adjust_contrast(s.image, 1.15); }},
      {"gamma", [](Sample& s, Rng&) { adjust_gamma(s.image, 1.1); }},
      {"brightness", [](Sample& s, Rng&) { adjust_brightness(s.image, 0.1); }},
      {"elastic (draw + warp + remap, both)",
       [&](Sample& s, Rng& rng) {
         const ElasticParams p = draw_elastic(cfg.distortion.elastic, kSize, kSize, rng);
         const Affine a = elastic_affine(kSize, kSize, p.anchor_offsets);
         const RemapField f = elastic_field(p);
         s.image = remap(warp_affine(s.image, a, Interp::kLinear), f, Interp::kLinear);
         s.mask = remap(warp_affine(s.mask, a, Interp::kNearest), f, Interp::kNearest);
       }},
      {"grid distortion (both)",
       [&](Sample& s, Rng& rng) {
         const RemapField f = grid_distortion_field(kSize, kSize, draw_grid_distortion(cfg.distortion.grid, rng));
         s.image = remap(s.image, f, Interp::kLinear), s.mask = remap(s.mask, f, Interp::kNearest);
       }},
      {"optical distortion (both)",
       [&](Sample& s, Rng& rng) {
         const RemapField f =
             optical_distortion_field(kSize, kSize, draw_optical_distortion(cfg.distortion.optical, rng));
         s.image = remap(s.image, f, Interp::kLinear), s.mask = remap(s.mask, f, Interp::kNearest);
       }},
      {"shift-scale-rotate (both)",
       [&](Sample& s, Rng& rng) {
         const Affine m = shift_scale_rotate_matrix(draw_shift_scale_rotate(cfg.shift_scale_rotate, rng), kSize, kSize);
         s.image = warp_affine(s.image, m, Interp::kLinear), s.mask = warp_affine(s.mask, m, Interp::kNearest);
       }},
      {"resize to 512 (both)",
       [](Sample& s, Rng&) {
         s.image = data::resize_bilinear(s.image, 512, 512), s.mask = data::resize_nearest(s.mask, 512, 512);
       }},
  };
  for (const Item& it : items) {
    const double t = time_per_call(base, it.name[0] == 'e' ? 5 : 9, it.fn);
    std::printf("%-44s %9.2f ms  (%.1fx baseline)\n", it.name, 1e3 * t, t / baseline);
  }

  // The solution's chain at 1024 (Resize is then a no-op) with its probabilities, then normalised.
  double total = 0.0;
  for (int k = 0; k < samples; ++k) {
    Rng rng(derive_seed(5, 0, static_cast<uint64_t>(k)));
    const double t0 = thread_cpu();
    Sample s = base;
    augment_pair(s.image, s.mask, cfg, rng);
    normalise(s);
    total += thread_cpu() - t0;
  }
  const double per_sample = total / samples;
  std::printf("%-44s %9.2f ms  %8.1f samples/s per core  (%d samples, %.1fx baseline)\n",
              "full chain at 1024 + normalise (mean)", 1e3 * per_sample, 1.0 / per_sample, samples,
              per_sample / baseline);

  // Through the Loader: batches of 2, `workers` threads, items copied from memory by the source.
  LoaderConfig lc;
  lc.batch_size = 2;
  lc.num_workers = workers;
  lc.prefetch_batches = 2 * workers;
  lc.seed = 5;
  Loader loader([&](int64_t) { return base; }, lc);
  std::vector<int64_t> order(static_cast<size_t>(samples));
  for (int k = 0; k < samples; ++k) order[static_cast<size_t>(k)] = k;
  const double t0 = now();
  loader.start_epoch(0, order);
  int64_t delivered = 0;
  while (auto b = loader.next()) delivered += b->images.shape()[0];
  const double wall = now() - t0;
  std::printf("%-44s %9.2f s   %8.1f samples/s with %d workers (%.1f per worker)\n", "Loader epoch, batch 2", wall,
              delivered / wall, workers, delivered / wall / workers);
  return 0;
}
