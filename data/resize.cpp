// cv2.resize on uint8, reproducing OpenCV's integer arithmetic (modules/imgproc/src/resize.cpp, 3.4-4.10;
// see resize.h):
// - INTER_LINEAR: source coordinate f = (float)((d + 0.5) * scale - 0.5), scale = 1 / (dst/src) in
//   double; s = floor(f), weights (1-f, f) in float, each rounded to 11-bit fixed point
//   (INTER_RESIZE_COEF_BITS, round half to even). Columns clamp to the edge by zeroing the weight of the
//   missing neighbour; rows clamp their indices (the weights stay). The horizontal pass keeps exact int
//   sums; the vertical pass is OpenCV's 8-bit formula ((b0*(S0>>4))>>16) + ((b1*(S1>>4))>>16) + 2) >> 2,
//   which its SIMD and scalar code both use (not the exact (sum + 2^21) >> 22).
// - An exact 2x reduction in both axes is switched to INTER_AREA by OpenCV: (a+b+c+d+2) >> 2. The linear
//   formula gives the same bits there (f = 2d + 0.5: weights 1024/1024, S = 1024 (a + b), and
//   1024 * (S >> 4) >> 16 = a + b exactly), so the shortcut only saves time.
// - INTER_NEAREST: s = min(floor(d * (1 / (dst/src))), src-1) (the non-"exact" nearest of cv2.resize).
#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace pleura::data {
namespace {

constexpr int kCoefScale = 1 << 11;  // OpenCV's INTER_RESIZE_COEF_BITS

void check_sizes(const char* op, const GrayImage& src, int64_t out_h, int64_t out_w) {
  PLEURA_CHECK(src.height > 0 && src.width > 0 && static_cast<int64_t>(src.pixels.size()) == src.height * src.width,
               "[", op, "] bad source image ", src.height, "x", src.width, " holding ", src.pixels.size(),
               " bytes (empty, or not height x width pixels)");
  PLEURA_CHECK(out_h > 0 && out_w > 0, "[", op, "] output size ", out_h, "x", out_w, " must be positive");
}

// OpenCV's border rule on each axis of INTER_LINEAR.
enum class Edge {
  kWholePixel,  // columns: before the first pixel, or at or past the last, the fraction is zeroed
  kClampIndex,  // rows: the fractional weights stay, the row indices are clamped
};

struct Tap {
  int64_t s0 = 0, s1 = 0;  // source indices (already clamped to the image)
  int a0 = 0, a1 = 0;      // fixed-point weights, summing to 2048
};

int round_coef(float v) { return static_cast<int>(std::lrint(v * static_cast<float>(kCoefScale))); }

std::vector<Tap> linear_taps(int64_t src, int64_t dst, Edge edge) {
  const double scale = 1.0 / (static_cast<double>(dst) / static_cast<double>(src));
  std::vector<Tap> taps(static_cast<size_t>(dst));
  for (int64_t d = 0; d < dst; ++d) {
    float f = static_cast<float>((static_cast<double>(d) + 0.5) * scale - 0.5);
    int64_t s = static_cast<int64_t>(std::floor(f));
    f -= static_cast<float>(s);
    if (edge == Edge::kWholePixel) {
      if (s < 0) f = 0.0f, s = 0;
      if (s >= src - 1) f = 0.0f, s = src - 1;
    }
    Tap& t = taps[static_cast<size_t>(d)];
    t.s0 = std::clamp<int64_t>(s, 0, src - 1);
    t.s1 = std::clamp<int64_t>(s + 1, 0, src - 1);
    t.a0 = round_coef(1.0f - f);
    t.a1 = round_coef(f);
  }
  return taps;
}

// The horizontal pass over the source rows that `rows` reads (exact int sums, at most 255 * 2048); rows
// no tap reads are left unset.
std::vector<int> horizontal_pass(const GrayImage& src, const std::vector<Tap>& cols, const std::vector<Tap>& rows) {
  const int64_t width = static_cast<int64_t>(cols.size());
  std::vector<char> needed(static_cast<size_t>(src.height), 0);
  for (const Tap& t : rows) needed[static_cast<size_t>(t.s0)] = needed[static_cast<size_t>(t.s1)] = 1;
  std::vector<int> sums(static_cast<size_t>(src.height * width));
  for (int64_t y = 0; y < src.height; ++y) {
    if (!needed[static_cast<size_t>(y)]) continue;
    const uint8_t* s = src.pixels.data() + y * src.width;
    int* d = sums.data() + y * width;
    for (int64_t x = 0; x < width; ++x) {
      const Tap& t = cols[static_cast<size_t>(x)];
      d[x] = s[t.s0] * t.a0 + s[t.s1] * t.a1;
    }
  }
  return sums;
}

GrayImage resize_linear(const GrayImage& src, int64_t height, int64_t width) {
  const std::vector<Tap> cols = linear_taps(src.width, width, Edge::kWholePixel);
  const std::vector<Tap> rows = linear_taps(src.height, height, Edge::kClampIndex);
  const std::vector<int> sums = horizontal_pass(src, cols, rows);
  GrayImage out(height, width);
  for (int64_t y = 0; y < height; ++y) {
    const Tap& t = rows[static_cast<size_t>(y)];
    const int* s0 = sums.data() + t.s0 * width;
    const int* s1 = sums.data() + t.s1 * width;
    uint8_t* d = out.pixels.data() + y * width;
    for (int64_t x = 0; x < width; ++x) {
      // OpenCV's 8-bit vertical step (VResizeLinear<uchar, ...> and its SIMD twin): pre-shift by 4 so the
      // products fit 16x16->32 multiplies, keep the high 16 bits of each, then round away the last 2 bits.
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
    for (int64_t x = 0; x < width; ++x)
      d[x] = static_cast<uint8_t>((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
  }
  return out;
}

}  // namespace

GrayImage resize_bilinear(const GrayImage& src, int64_t out_h, int64_t out_w) {
  check_sizes("resize_bilinear", src, out_h, out_w);
  if (out_h == src.height && out_w == src.width) return src;
  if (src.height == 2 * out_h && src.width == 2 * out_w) return resize_area_half(src, out_h, out_w);
  return resize_linear(src, out_h, out_w);
}

GrayImage resize_nearest(const GrayImage& src, int64_t out_h, int64_t out_w) {
  check_sizes("resize_nearest", src, out_h, out_w);
  const double ifx = 1.0 / (static_cast<double>(out_w) / static_cast<double>(src.width));
  const double ify = 1.0 / (static_cast<double>(out_h) / static_cast<double>(src.height));
  std::vector<int64_t> xs(static_cast<size_t>(out_w));
  for (int64_t x = 0; x < out_w; ++x) {
    const int64_t sx = static_cast<int64_t>(std::floor(static_cast<double>(x) * ifx));
    xs[static_cast<size_t>(x)] = std::min(sx, src.width - 1);
  }
  GrayImage out(out_h, out_w);
  for (int64_t y = 0; y < out_h; ++y) {
    const int64_t sy = std::min(static_cast<int64_t>(std::floor(static_cast<double>(y) * ify)), src.height - 1);
    const uint8_t* s = src.pixels.data() + sy * src.width;
    uint8_t* d = out.pixels.data() + y * out_w;
    for (int64_t x = 0; x < out_w; ++x) d[x] = s[xs[static_cast<size_t>(x)]];
  }
  return out;
}

}  // namespace pleura::data
