// OpenCV-compatible bilinear and nearest resizing of 8-bit grey images (see resize.h).
#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace pleura::data {
namespace {

constexpr int kCoefBits = 11;  // OpenCV's INTER_RESIZE_COEF_BITS
constexpr int kCoefScale = 1 << kCoefBits;

struct AxisTap {
  int64_t i0 = 0, i1 = 0;  // source indices (already clamped to the image)
  int w0 = 0, w1 = 0;      // integer weights, summing to 2048
};

// The x axis of OpenCV's INTER_LINEAR set-up (resize.cpp): the position is rounded to float before
// the floor, the weights are cvRound(float * 2048) (round half to even), and at the borders (position
// before the first pixel, or at or past the last one) the fraction is zeroed and the edge pixel taken
// whole.
std::vector<AxisTap> x_taps(int64_t in, int64_t out) {
  const double scale = 1.0 / (static_cast<double>(out) / static_cast<double>(in));
  std::vector<AxisTap> taps(static_cast<size_t>(out));
  for (int64_t d = 0; d < out; ++d) {
    float f = static_cast<float>((static_cast<double>(d) + 0.5) * scale - 0.5);
    int64_t s = static_cast<int64_t>(std::floor(f));
    f -= static_cast<float>(s);
    if (s < 0) f = 0.0f, s = 0;
    if (s >= in - 1) f = 0.0f, s = in - 1;
    AxisTap& t = taps[static_cast<size_t>(d)];
    t.i0 = s;
    t.i1 = std::min(s + 1, in - 1);
    t.w0 = static_cast<int>(std::nearbyint((1.0f - f) * static_cast<float>(kCoefScale)));
    t.w1 = static_cast<int>(std::nearbyint(f * static_cast<float>(kCoefScale)));
  }
  return taps;
}

}  // namespace

GrayImage resize_bilinear(const GrayImage& src, int64_t out_h, int64_t out_w) {
  PLEURA_CHECK(src.height > 0 && src.width > 0, "[resize_bilinear] empty source image");
  PLEURA_CHECK(out_h > 0 && out_w > 0, "[resize_bilinear] output size ", out_h, "x", out_w,
               " must be positive");
  if (out_h == src.height && out_w == src.width) return src;  // cv2.resize copies in this case
  const std::vector<AxisTap> xs = x_taps(src.width, out_w);
  GrayImage dst(out_h, out_w);
  std::vector<int> row0(static_cast<size_t>(out_w)), row1(static_cast<size_t>(out_w));
  const double scale_y = 1.0 / (static_cast<double>(out_h) / static_cast<double>(src.height));
  auto horizontal = [&](int64_t y, std::vector<int>& row) {
    const uint8_t* s = src.pixels.data() + y * src.width;
    for (int64_t dx = 0; dx < out_w; ++dx) {
      const AxisTap& t = xs[static_cast<size_t>(dx)];
      row[static_cast<size_t>(dx)] = s[t.i0] * t.w0 + s[t.i1] * t.w1;
    }
  };
  for (int64_t dy = 0; dy < out_h; ++dy) {
    // y axis: unlike x, OpenCV keeps the fractional weights at the borders and clamps the rows.
    float f = static_cast<float>((static_cast<double>(dy) + 0.5) * scale_y - 0.5);
    const int64_t s = static_cast<int64_t>(std::floor(f));
    f -= static_cast<float>(s);
    const int b0 = static_cast<int>(std::nearbyint((1.0f - f) * static_cast<float>(kCoefScale)));
    const int b1 = static_cast<int>(std::nearbyint(f * static_cast<float>(kCoefScale)));
    horizontal(std::clamp<int64_t>(s, 0, src.height - 1), row0);
    horizontal(std::clamp<int64_t>(s + 1, 0, src.height - 1), row1);
    uint8_t* d = dst.pixels.data() + dy * out_w;
    for (int64_t dx = 0; dx < out_w; ++dx) {
      // OpenCV's 8-bit vertical pass (VResizeLinear<uchar,...> and its SIMD twin): each term drops 4
      // bits before a 16-bit high multiply, then the sum is rounded by 2 bits.
      const int v = (((b0 * (row0[static_cast<size_t>(dx)] >> 4)) >> 16) +
                     ((b1 * (row1[static_cast<size_t>(dx)] >> 4)) >> 16) + 2) >> 2;
      d[dx] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
  }
  return dst;
}

GrayImage resize_nearest(const GrayImage& src, int64_t out_h, int64_t out_w) {
  PLEURA_CHECK(src.height > 0 && src.width > 0, "[resize_nearest] empty source image");
  PLEURA_CHECK(out_h > 0 && out_w > 0, "[resize_nearest] output size ", out_h, "x", out_w,
               " must be positive");
  const double ifx = 1.0 / (static_cast<double>(out_w) / static_cast<double>(src.width));
  const double ify = 1.0 / (static_cast<double>(out_h) / static_cast<double>(src.height));
  std::vector<int64_t> sx(static_cast<size_t>(out_w));
  for (int64_t x = 0; x < out_w; ++x) {
    sx[static_cast<size_t>(x)] =
        std::min(static_cast<int64_t>(std::floor(static_cast<double>(x) * ifx)), src.width - 1);
  }
  GrayImage dst(out_h, out_w);
  for (int64_t y = 0; y < out_h; ++y) {
    const int64_t syy = std::min(static_cast<int64_t>(std::floor(static_cast<double>(y) * ify)), src.height - 1);
    const uint8_t* s = src.pixels.data() + syy * src.width;
    uint8_t* d = dst.pixels.data() + y * out_w;
    for (int64_t x = 0; x < out_w; ++x) d[x] = s[sx[static_cast<size_t>(x)]];
  }
  return dst;
}

}  // namespace pleura::data
