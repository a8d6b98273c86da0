// Helpers for the training tests (tests/data/test_dataset.cpp, tests/tools/test_train_unet.cpp): a tiny
// prepared cache of synthetic chest images laid out as tools/prepare_data writes it, with a folds file,
// and the INI text of a small training run over it. Implemented in train_testing.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pleura::testing {

struct TinyCache {
  std::string dir;                    // DIR/images, DIR/masks, DIR/manifest.csv
  std::string folds;                  // DIR/folds.csv
  std::vector<std::string> ids;       // ImageIds in folds-file order
  std::vector<bool> positive;         // per id
  std::vector<int> fold;              // per id
};

// `count` synthetic images of size x size (render_synthetic_chest, demo difficulty, seeded by index), every
// other one positive, dealt round-robin into `folds` folds, written under `dir` (created).
TinyCache make_tiny_cache(const std::string& dir, int count, int64_t size, int folds);

// An INI for albunet at 64x64 on the CPU over `cache`, fold 0, writing to `output`; `extra` is appended
// (later sections may not repeat earlier ones: pass whole sections the base text lacks).
std::string tiny_train_ini(const TinyCache& cache, const std::string& output, const std::string& extra = "");

}  // namespace pleura::testing
