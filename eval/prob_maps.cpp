// Reading folders of probability maps (see prob_maps.h).
#include "eval/prob_maps.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "engine/error.h"
#include "engine/npy.h"
#include "data/image_io.h"

namespace fs = std::filesystem;

namespace pleura::eval {

std::vector<MapFile> list_prob_maps(const std::string& dir) {
  PLEURA_CHECK(fs::is_directory(dir), "probability maps: '", dir, "' is not a folder");
  std::map<std::string, std::string> by_id;  // sorted by ImageId
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    if (ext != ".png" && ext != ".npy") continue;
    const std::string id = entry.path().stem().string();
    const std::string path = entry.path().string();
    auto [it, inserted] = by_id.emplace(id, path);
    PLEURA_CHECK(inserted, "probability maps: two files for the ImageId '", id, "' in ", dir, ": ",
                 std::min(it->second, path), " and ", std::max(it->second, path));
  }
  PLEURA_CHECK(!by_id.empty(), "probability maps: no <ImageId>.png or <ImageId>.npy file in '", dir, "'");
  std::vector<MapFile> out;
  out.reserve(by_id.size());
  for (auto& [id, path] : by_id) out.push_back({id, path});
  return out;
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

}  // namespace

Tensor read_prob_map(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".png") return read_png_map(path);
  PLEURA_CHECK(ext == ".npy", path, ": a probability map must be a .png or a .npy file");
  return read_npy_map(path);
}

Tensor as_batch_of_one(const Tensor& map) {
  PLEURA_CHECK(map.ndim() == 2 && map.dtype() == DType::kFloat32, "[as_batch_of_one] expected a float32 [H, W] map, got ",
               describe(map));
  return map.view({1, 1, map.size(0), map.size(1)});
}

}  // namespace pleura::eval
