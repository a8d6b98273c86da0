// cv2.resize on uint8, reproducing OpenCV's integer arithmetic (resize.cpp, 3.4-4.10):
// - INTER_LINEAR: source coordinate f = (float)((d + 0.5) * scale - 0.5), scale = 1 / (dst/src) in
//   double; s = floor(f), weights (1-f, f) in float, each rounded to 11-bit fixed point
//   (INTER_RESIZE_COEF_BITS). Columns clamp to the edge by zeroing the weight of the missing
//   neighbour; rows clamp their indices (the weights stay). The horizontal pass keeps exact int sums;
//   the vertical pass is OpenCV's 8-bit formula ((b0*(S0>>4))>>16) + ((b1*(S1>>4))>>16) + 2) >> 2, which
//   its SIMD and scalar code both use (not the exact (sum + 2^21) >> 22).
// - An exact 2x reduction in both axes is switched to INTER_AREA by OpenCV: (a+b+c+d+2) >> 2.
// - INTER_NEAREST: s = min(floor(d * (1 / (dst/src))), src-1) (the non-"exact" nearest of cv2.resize).
// Checked against cv2 4.10 by tests/data/augment/test_golden.cpp. Header: resize.h.
#include "data/augment/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace pleura::augment {

namespace {

constexpr int kCoefScale = 1 << 11;

struct Tap {
  int64_t s0, s1;  // source indices (already clamped)
  int a0, a1;      // fixed-point weights
};

int round_coef(float v) { return static_cast<int>(std::lrint(v * static_cast<float>(kCoefScale))); }

// Linear taps along one axis. `clamp_weights`: columns (cv2 zeroes the weight at the edges) or rows
// (cv2 keeps the weights and clamps the indices).
std::vector<Tap> linear_taps(int64_t src, int64_t dst, bool clamp_weights) {
  const double scale = 1.0 / (static_cast<double>(dst) / static_cast<double>(src));
  std::vector<Tap> taps(static_cast<size_t>(dst));
  for (int64_t d = 0; d < dst; ++d) {
    float f = static_cast<float>((static_cast<double>(d) + 0.5) * scale - 0.5);
    int64_t s = static_cast<int64_t>(std::floor(f));
    f -= static_cast<float>(s);
    Tap& t = taps[static_cast<size_t>(d)];
    if (clamp_weights) {
      if (s < 0) f = 0.0f, s = 0;
      if (s >= src - 1) f = 0.0f, s = src - 1;
    }
    t.s0 = std::clamp<int64_t>(s, 0, src - 1);
    t.s1 = std::clamp<int64_t>(s + 1, 0, src - 1);
    t.a0 = round_coef(1.0f - f);
    t.a1 = round_coef(f);
  }
  return taps;
}

GrayImage resize_linear(const GrayImage& src, int64_t height, int64_t width) {
  const std::vector<Tap> cols = linear_taps(src.width, width, true);
  const std::vector<Tap> rows = linear_taps(src.height, height, false);
  // Horizontal pass for every source row (exact int sums, at most 255 * 2048).
  std::vector<int> hbuf(static_cast<size_t>(src.height * width));
  for (int64_t y = 0; y < src.height; ++y) {
    const uint8_t* s = src.pixels.data() + y * src.width;
    int* d = hbuf.data() + y * width;
    for (int64_t x = 0; x < width; ++x) {
      const Tap& t = cols[static_cast<size_t>(x)];
      d[x] = s[t.s0] * t.a0 + s[t.s1] * t.a1;
    }
  }
  GrayImage out(height, width);
  for (int64_t y = 0; y < height; ++y) {
    const Tap& t = rows[static_cast<size_t>(y)];
    const int* s0 = hbuf.data() + t.s0 * width;
    const int* s1 = hbuf.data() + t.s1 * width;
    uint8_t* d = out.pixels.data() + y * width;
    for (int64_t x = 0; x < width; ++x) {
      // OpenCV's 8-bit vertical step: pre-shift by 4 so the products fit 16x16->32 multiplies, keep the
      // high 16 bits of each, then round away the last 2 bits.
      const int v = (((s0[x] >> 4) * t.a0) >> 16) + (((s1[x] >> 4) * t.a1) >> 16);
      d[x] = static_cast<uint8_t>(std::clamp((v + 2) >> 2, 0, 255));
    }
  }
  return out;
}

GrayImage resize_area_half(const GrayImage& src, int64_t height, int64_t width) {
  GrayImage out(height, width);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* a = src.pixels.data() + 2 * y * src.width;
    const uint8_t* b = a + src.width;
    uint8_t* d = out.pixels.data() + y * width;
    for (int64_t x = 0; x < width; ++x) d[x] = static_cast<uint8_t>((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
  }
  return out;
}

GrayImage resize_nearest(const GrayImage& src, int64_t height, int64_t width) {
  const double ifx = 1.0 / (static_cast<double>(width) / static_cast<double>(src.width));
  const double ify = 1.0 / (static_cast<double>(height) / static_cast<double>(src.height));
  std::vector<int64_t> xs(static_cast<size_t>(width));
  for (int64_t x = 0; x < width; ++x) {
    xs[x] = std::min(static_cast<int64_t>(std::floor(static_cast<double>(x) * ifx)), src.width - 1);
  }
  GrayImage out(height, width);
  for (int64_t y = 0; y < height; ++y) {
    const int64_t sy = std::min(static_cast<int64_t>(std::floor(static_cast<double>(y) * ify)), src.height - 1);
    const uint8_t* s = src.pixels.data() + sy * src.width;
    uint8_t* d = out.pixels.data() + y * width;
    for (int64_t x = 0; x < width; ++x) d[x] = s[xs[x]];
  }
  return out;
}

}  // namespace

GrayImage resize(const GrayImage& src, int64_t height, int64_t width, Interp interp) {
  PLEURA_CHECK(src.height > 0 && src.width > 0 && static_cast<int64_t>(src.pixels.size()) == src.height * src.width,
               "[resize] bad source image ", src.height, "x", src.width, " holding ", src.pixels.size(), " bytes");
  PLEURA_CHECK(height > 0 && width > 0, "[resize] target size ", height, "x", width, " must be positive");
  if (height == src.height && width == src.width) return src;
  if (interp == Interp::kNearest) return resize_nearest(src, height, width);
  if (src.height == 2 * height && src.width == 2 * width) return resize_area_half(src, height, width);
  return resize_linear(src, height, width);
}

}  // namespace pleura::augment
