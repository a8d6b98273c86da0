// The probability-map format, written by infer_unet and read by search_triplets and rle_submit (eval/): a
// folder of one file per ImageId, in one of two encodings:
//   <ImageId>.npy  float32 [H, W], the averaged probabilities exactly (the reference kept float32 maps);
//                  read back as stored ([1, H, W] and [1, 1, H, W] accepted too);
//   <ImageId>.png  8-bit grey, v = floor(p * 255 + 0.5) computed in double (round half up), read back as
//                  p' = v / 255 in float32 (numpy's img.astype(float32) / 255): |p' - p| <= 0.5/255 (about
//                  0.002), so a pixel within that distance of a threshold may land on the other side of it;
//                  a quarter of the npy's size.
// Every file is written atomically (temporary file, then rename). Implementation in infer/prob_map.cpp;
// tests in tests/infer/test_prob_map.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace pleura::infer {

enum class MapFormat { kNpy, kPng };
// "npy" or "png"; anything else throws naming the text.
MapFormat parse_map_format(const std::string& text);
const char* map_format_name(MapFormat format);

// The png quantisation above; p must lie in [0, 1].
uint8_t quantize_probability(float p);

// <dir>/<image_id>.npy or .png.
std::string map_path(const std::string& dir, const std::string& image_id, MapFormat format);

// Writes the H x W map p (row-major) of `image_id`. Every value must be a probability in [0, 1]: a NaN
// (from a diverged checkpoint) is an error naming the image and the pixel, and nothing is written.
void write_map(const std::string& dir, const std::string& image_id, const float* p, int64_t height, int64_t width,
               MapFormat format);

// Reads one map as a float32 CPU tensor [H, W], by its extension. Every value of an npy must lie in
// [0, 1] (NaN and logits are refused); errors name the file, and the pixel and value where one is at fault.
Tensor read_prob_map(const std::string& path);

struct MapFile {
  std::string image_id;  // the file name without .png / .npy
  std::string path;
};

// The .png and .npy files directly in `dir` (no recursion; other files are ignored), sorted by ImageId.
// Throws when `dir` is not a folder, holds no map, or holds both <id>.png and <id>.npy (naming both).
std::vector<MapFile> list_prob_maps(const std::string& dir);

// The ImageIds of the maps directly in `dir`, sorted and without repeats; empty when `dir` does not exist
// (infer_unet's resume).
std::vector<std::string> existing_map_ids(const std::string& dir);

}  // namespace pleura::infer
