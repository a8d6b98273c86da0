// Probability maps to and from .npy / .png files, and folders of them (see prob_map.h).
#include "infer/prob_map.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "engine/error.h"
#include "engine/file_io.h"
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

namespace {

Tensor read_png_map(const std::string& path) {
  const GrayImage image = data::read_image_gray(path);
  Tensor map = Tensor::empty({image.height, image.width}, DType::kFloat32);
  float* p = map.data<float>();
  // float32 division, as numpy's img.astype(np.float32) / 255 does: the same bits.
  for (size_t i = 0; i < image.pixels.size(); ++i) p[i] = static_cast<float>(image.pixels[i]) / 255.0f;
  return map;
}

Tensor read_npy_map(const std::string& path) {
  Tensor t = read_npy(path);
  PLEURA_CHECK(t.dtype() == DType::kFloat32, path, ": probability map has dtype ", dtype_name(t.dtype()),
               ", expected float32");
  const int nd = t.ndim();
  bool leading_ones = nd >= 2 && nd <= 4;
  for (int d = 0; leading_ones && d < nd - 2; ++d) leading_ones = t.size(d) == 1;
  PLEURA_CHECK(leading_ones && t.size(-1) > 0 && t.size(-2) > 0, path, ": probability map has shape ",
               t.shape().str(), ", expected [H, W] (or [1, H, W], [1, 1, H, W]) with H, W >= 1");
  const int64_t H = t.size(-2), W = t.size(-1);
  Tensor map = t.view({H, W});
  const float* p = map.data<float>();
  for (int64_t i = 0; i < H * W; ++i) {
    // Written as !(0 <= p <= 1) so that NaN fails too.
    if (!(p[i] >= 0.0f && p[i] <= 1.0f)) {
      throw_error(cat(path, ": pixel (y ", i / W, ", x ", i % W, ") holds ", p[i],
                      ", expected a probability in [0, 1] (logits must go through a sigmoid first)"));
    }
  }
  return map;
}

// The map files directly in `dir` (regular files named *.npy or *.png), sorted by path.
std::vector<MapFile> map_files_in(const std::string& dir) {
  const auto is_map = [](const fs::path& p) { return p.extension() == ".npy" || p.extension() == ".png"; };
  std::vector<MapFile> out;
  for (const fs::path& p : files_in_folder(dir, "probability maps", /*recursive=*/false, is_map))
    out.push_back({p.stem().string(), p.string()});
  return out;
}

}  // namespace

Tensor read_prob_map(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".png") return read_png_map(path);
  PLEURA_CHECK(ext == ".npy", path, ": a probability map must be a .png or a .npy file");
  return read_npy_map(path);
}

std::vector<MapFile> list_prob_maps(const std::string& dir) {
  require_folder(dir, "probability maps: folder");
  std::map<std::string, std::string> by_id;  // sorted by ImageId
  for (const MapFile& m : map_files_in(dir)) {
    auto [it, inserted] = by_id.emplace(m.image_id, m.path);
    PLEURA_CHECK(inserted, "probability maps: two files for the ImageId '", m.image_id, "' in ", dir, ": ",
                 std::min(it->second, m.path), " and ", std::max(it->second, m.path));
  }
  PLEURA_CHECK(!by_id.empty(), "probability maps: no <ImageId>.png or <ImageId>.npy file in '", dir, "'");
  std::vector<MapFile> out;
  out.reserve(by_id.size());
  for (auto& [id, path] : by_id) out.push_back({id, path});
  return out;
}

std::vector<std::string> existing_map_ids(const std::string& dir) {
  if (!fs::is_directory(dir)) return {};
  std::set<std::string> ids;
  for (const MapFile& m : map_files_in(dir)) ids.insert(m.image_id);
  return {ids.begin(), ids.end()};
}


}  // namespace pleura::infer
