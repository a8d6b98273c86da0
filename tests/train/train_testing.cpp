// The training test helpers (train_testing.h).
#include "tests/train/train_testing.h"

#include <filesystem>

#include "engine/error.h"
#include "data/folds.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/synthetic.h"

namespace pleura::testing {

TinyCache make_tiny_cache(const std::string& dir, int count, int64_t size, int folds) {
  TinyCache c;
  c.dir = dir;
  c.folds = dir + "/folds.csv";
  std::filesystem::create_directories(dir + "/images");
  std::filesystem::create_directories(dir + "/masks");
  data::Folds f;
  f.num_folds = folds;
  std::vector<data::ManifestRow> manifest;
  for (int i = 0; i < count; ++i) {
    const std::string id = cat("2.25.", 1000 + i);
    const bool positive = i % 2 == 1;
    data::SyntheticChest chest =
        data::render_synthetic_chest(size, data::Difficulty::kDemo, positive ? 1 : 0, static_cast<uint64_t>(i + 1));
    GrayImage mask = positive ? chest.lesions.at(0) : GrayImage(size, size, 0);
    data::write_png_gray(dir + "/images/" + id + ".png", chest.image);
    data::write_png_gray(dir + "/masks/" + id + ".png", mask);
    int64_t on = 0;
    for (uint8_t v : mask.pixels) on += v == 255;
    manifest.push_back({id, "synthetic", size, size, size, size, positive, on});
    f.entries.push_back({id, id + ".png", i % folds, positive, ""});
    c.ids.push_back(id);
    c.positive.push_back(positive);
    c.fold.push_back(i % folds);
  }
  data::write_manifest(dir + "/manifest.csv", manifest);
  data::write_folds(c.folds, f);
  return c;
}

std::string tiny_train_ini(const TinyCache& cache, const std::string& output, const std::string& extra) {
  return "[run]\npipeline = tiny\noutput = " + output + "\nseed = 7\ndevice = cpu\nworkers = 2\n" +
         "[data]\ncache = " + cache.dir + "\nsize = 64\n" +
         "[folds]\nfile = " + cache.folds + "\nuse = 0\n" +
         "[model]\nname = albunet\n" +
         "[sampler]\nrate = 0.5\n" +
         "[optimizer]\nlr = 0.001\n" +
         "[scheduler]\ntype = cosine\nt_max = 2\neta_min = 0.00001\n" +
         "[train]\nepochs = 2\nbatch_size = 2\nearly_stopping = 5\n" +
         "[validation]\ntops = 0.3, 0.6\nareas = 0, 20\nbottoms = 0.2, 0.4\n" + extra;
}

}  // namespace pleura::testing
