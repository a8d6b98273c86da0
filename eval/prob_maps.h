// Probability maps on disk, as the inference step leaves them: a folder of <ImageId>.png (8-bit grey,
// p = v / 255 in float32) or <ImageId>.npy (float32, H x W; leading dimensions of size 1 accepted).
// Used by search_triplets and rle_submit (eval/ensemble.h, search.h); tests:
// tests/eval/test_prob_maps.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace pleura::eval {

struct MapFile {
  std::string image_id;  // the file name without .png / .npy
  std::string path;
};

// The .png and .npy files directly in `dir` (no recursion; other files are ignored), sorted by ImageId.
// Throws when `dir` is not a folder, holds no map, or holds both <id>.png and <id>.npy (naming both).
std::vector<MapFile> list_prob_maps(const std::string& dir);

// Reads one map as a float32 CPU tensor [H, W]. PNG: p = v / 255 computed in float32 (numpy's
// img.astype(float32) / 255). NPY: float32 with shape [H, W] (or [1, H, W], [1, 1, H, W]); every value
// must lie in [0, 1] (NaN and logits are refused, naming the file, the pixel and the value).
Tensor read_prob_map(const std::string& path);

// Converts an H x W probability tensor (float32 [H, W]) to the [1, 1, H, W] view the triplet ops take.
Tensor as_batch_of_one(const Tensor& map);

}  // namespace pleura::eval
