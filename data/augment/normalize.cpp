// Normalisation to float32 (header normalize.h): a 256-entry table per channel, so every pixel costs a
// lookup.
#include "data/augment/normalize.h"

#include <array>

#include "engine/error.h"

namespace pleura::augment {

namespace {

constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};

std::array<float, 256> channel_table(Normalization norm, int c) {
  std::array<float, 256> t;
  if (norm == Normalization::kUnit) {
    for (int i = 0; i < 256; ++i) t[i] = static_cast<float>(i) / 255.0f;
  } else {
    const float mean = kMean[c] * 255.0f;
    const float inv_std = 1.0f / (kStd[c] * 255.0f);
    for (int i = 0; i < 256; ++i) t[i] = (static_cast<float>(i) - mean) * inv_std;
  }
  return t;
}

void check_image(const GrayImage& g, const char* what) {
  PLEURA_CHECK(g.height > 0 && g.width > 0 && static_cast<int64_t>(g.pixels.size()) == g.height * g.width,
               "[normalize] bad ", what, " ", g.height, "x", g.width, " holding ", g.pixels.size(), " bytes");
}

}  // namespace

Normalization parse_normalization(const std::string& text) {
  if (text == "unit") return Normalization::kUnit;
  if (text == "imagenet") return Normalization::kImagenet;
  throw_error(cat("[normalize] unknown normalization '", text, "': expected 'unit' or 'imagenet'"));
}

const char* normalization_name(Normalization n) { return n == Normalization::kUnit ? "unit" : "imagenet"; }

void write_image_chw(const GrayImage& image, Normalization norm, float* dst) {
  check_image(image, "image");
  const size_t n = image.pixels.size();
  for (int c = 0; c < 3; ++c) {
    const std::array<float, 256> t = channel_table(norm, c);
    float* out = dst + static_cast<size_t>(c) * n;
    for (size_t i = 0; i < n; ++i) out[i] = t[image.pixels[i]];
  }
}

void write_mask(const GrayImage& mask, float* dst) {
  check_image(mask, "mask");
  for (size_t i = 0; i < mask.pixels.size(); ++i) dst[i] = static_cast<float>(mask.pixels[i]) / 255.0f;
}

Tensor image_to_tensor(const GrayImage& image, Normalization norm) {
  Tensor t = Tensor::empty({3, image.height, image.width}, DType::kFloat32);
  write_image_chw(image, norm, t.data<float>());
  return t;
}

Tensor mask_to_tensor(const GrayImage& mask) {
  Tensor t = Tensor::empty({1, mask.height, mask.width}, DType::kFloat32);
  write_mask(mask, t.data<float>());
  return t;
}

}  // namespace pleura::augment
