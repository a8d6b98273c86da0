// Probability maps to .npy / .png files (see map_writer.h).
#include "infer/map_writer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "engine/error.h"
#include "engine/npy.h"
#include "data/image_io.h"

namespace fs = std::filesystem;

namespace pleura::infer {

MapFormat parse_map_format(const std::string& text) {
  if (text == "npy") return MapFormat::kNpy;
  if (text == "png") return MapFormat::kPng;
  throw_error(cat("unknown map format '", text, "': expected npy or png"));
}

const char* map_format_name(MapFormat format) { return format == MapFormat::kNpy ? "npy" : "png"; }

uint8_t quantize_probability(float p) {
  PLEURA_CHECK(p >= 0.0f && p <= 1.0f, "[quantize_probability] ", p, " is not a probability in [0, 1]");
  return static_cast<uint8_t>(std::floor(static_cast<double>(p) * 255.0 + 0.5));
}

std::string map_path(const std::string& dir, const std::string& image_id, MapFormat format) {
  return (fs::path(dir) / (image_id + "." + map_format_name(format))).string();
}

void write_map(const std::string& dir, const std::string& image_id, const float* p, int64_t height, int64_t width,
               MapFormat format) {
  PLEURA_CHECK(height > 0 && width > 0, "[write_map] ", image_id, ": size ", height, "x", width);
  const int64_t n = height * width;
  for (int64_t k = 0; k < n; ++k) {
    // Written as !(0 <= p <= 1) so that NaN fails too.
    if (!(p[k] >= 0.0f && p[k] <= 1.0f)) {
      throw_error(cat("image ", image_id, ": the averaged probability at (y ", k / width, ", x ", k % width, ") is ",
                      p[k], ", not in [0, 1] (a checkpoint with NaN or infinite weights?); no map written"));
    }
  }
  const std::string path = map_path(dir, image_id, format);
  if (format == MapFormat::kNpy) {
    Tensor t = Tensor::empty({height, width}, DType::kFloat32);
    std::copy(p, p + n, t.data<float>());
    write_npy(path, t);
  } else {
    GrayImage image(height, width);
    for (int64_t k = 0; k < n; ++k) image.pixels[static_cast<size_t>(k)] = quantize_probability(p[k]);
    data::write_png_gray(path, image);
  }
}

std::vector<std::string> existing_map_ids(const std::string& dir) {
  std::set<std::string> ids;
  if (!fs::is_directory(dir)) return {};
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    if (ext == ".npy" || ext == ".png") ids.insert(entry.path().stem().string());
  }
  return {ids.begin(), ids.end()};
}

int remove_stale_temporaries(const std::string& dir) {
  int removed = 0;
  if (!fs::is_directory(dir)) return 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file()) continue;
    if (name.find(".npy.tmp.") != std::string::npos || name.find(".png.tmp.") != std::string::npos ||
        name.find(".txt.tmp.") != std::string::npos) {
      fs::remove(entry.path());
      ++removed;
    }
  }
  return removed;
}

}  // namespace pleura::infer
