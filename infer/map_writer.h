// Writing infer_unet's probability maps, one file per ImageId in the output folder, in the two forms
// that rle_submit and search_triplets read back (eval/prob_maps.h):
//   <ImageId>.npy  float32 [H, W], the averaged probabilities exactly (the reference kept float32 maps);
//   <ImageId>.png  8-bit grey, v = floor(p * 255 + 0.5) computed in double (round half up), read back as
//                  p' = v / 255 in float32: |p' - p| <= 0.5/255 (about 0.002), so a pixel within that
//                  distance of a threshold may land on the other side of it; a quarter of the npy's size.
// Every file is written atomically (temporary file, then rename). Tests: tests/infer/test_map_writer.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// The ImageIds of the maps (<id>.png or <id>.npy) directly in `dir`, sorted; empty when `dir` does not exist.
std::vector<std::string> existing_map_ids(const std::string& dir);

// Removes temporary files a killed run left in `dir` ("<name>.npy.tmp.<pid>", "<name>.png.tmp.<pid>",
// "<name>.txt.tmp.<pid>"). Returns how many.
int remove_stale_temporaries(const std::string& dir);

}  // namespace pleura::infer
