// Helpers for the map and submission tests (tests/infer/, tests/eval/, tests/tools/test_{search_triplets,
// rle_submit,score_submission}.cpp): probability maps written as .npy or .png, seeded smooth random maps,
// and the last line of a tool's output. Implemented in eval_testing.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "data/image.h"

namespace pleura::testing {

// A float32 [H, W] tensor holding `values` (row-major, H*W of them).
Tensor map_tensor(int64_t height, int64_t width, const std::vector<float>& values);
// Writes a float32 [H, W] map as <path> (.npy).
void write_npy_map(const std::string& path, int64_t height, int64_t width, const std::vector<float>& values);
// A smooth random map in [0, 1] (a few Gaussian bumps plus noise) from a fixed seed, float32 [H, W].
Tensor smooth_random_map(int64_t height, int64_t width, uint64_t seed);
// The 8-bit image whose PNG read back gives `map` (0 -> 0, 1 -> 255): for maps made of 0 and 1 only.
GrayImage binary_map_png(const Tensor& map);

// The last non-empty line of `text`.
std::string last_line(const std::string& text);

}  // namespace pleura::testing
