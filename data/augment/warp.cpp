// warpAffine and remap on 8-bit images, reproducing OpenCV's integer arithmetic (imgwarp.cpp, 3.x-4.10):
// - Bilinear weights are fixed point: the sub-pixel position is quantised to 1/32 pixel (INTER_BITS 5)
//   and the four weights (32-fx)(32-fy), fx(32-fy), (32-fx)fy, fx*fy (x32, INTER_REMAP_COEF_BITS 15)
//   sum to 32768; the result is (sum + 2^14) >> 15. With 1/32 steps every weight is an exact integer,
//   so OpenCV's table correction never fires.
// - warpAffine inverts the matrix in double, then walks each row in 10-bit fixed point (AB_BITS):
//   X = round((m1*y + m2) * 1024) + round(m0*x * 1024) + delta, delta = 16 (bilinear) or 512 (nearest).
// - remap with float maps rounds map*32 to the nearest integer, ties to even (bilinear), or the map
//   itself (nearest).
// Checked against cv2 4.10 by tests/data/augment/test_golden.cpp. Header: warp.h.
#include "data/augment/warp.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "data/augment/border.h"

namespace pleura::augment {

namespace {

constexpr int kInterBits = 5;
constexpr int kInterTab = 1 << kInterBits;  // 32 sub-pixel steps
constexpr int kAbBits = 10;                 // warpAffine's row-walk precision
constexpr double kAbScale = 1 << kAbBits;

// cv2's saturate_cast<short> of an int.
inline int to_short(int v) { return std::clamp(v, -32768, 32767); }

// cvRound of a double / float: nearest, ties to even (the default rounding mode). Values outside the
// int range never occur for images below 2^20 pixels a side; clamp first so the conversion stays
// defined.
inline int round_int(double v) { return static_cast<int>(std::lrint(std::clamp(v, -2.0e9, 2.0e9))); }
inline int round_int(float v) { return static_cast<int>(std::lrint(std::clamp(v, -2.0e9f, 2.0e9f))); }

// Bilinear sample at integer pixel (sx, sy) plus (fx, fy)/32, reflect-101 outside the image.
inline uint8_t sample_linear(const GrayImage& s, int sx, int sy, int fx, int fy) {
  const int64_t w = s.width, h = s.height;
  const uint8_t* p = s.pixels.data();
  int v00, v01, v10, v11;
  if (sx >= 0 && sy >= 0 && sx < w - 1 && sy < h - 1) {
    const uint8_t* q = p + sy * w + sx;
    v00 = q[0], v01 = q[1], v10 = q[w], v11 = q[w + 1];
  } else {
    const int64_t x0 = reflect_101(sx, w), x1 = reflect_101(sx + 1, w);
    const int64_t y0 = reflect_101(sy, h), y1 = reflect_101(sy + 1, h);
    v00 = p[y0 * w + x0], v01 = p[y0 * w + x1], v10 = p[y1 * w + x0], v11 = p[y1 * w + x1];
  }
  // Weights in units of 1/1024 (OpenCV's are these times 32; (32*sum + 2^14) >> 15 == (sum + 512) >> 10).
  const int w00 = (kInterTab - fx) * (kInterTab - fy), w01 = fx * (kInterTab - fy);
  const int w10 = (kInterTab - fx) * fy, w11 = fx * fy;
  return static_cast<uint8_t>((v00 * w00 + v01 * w01 + v10 * w10 + v11 * w11 + 512) >> 10);
}

inline uint8_t sample_nearest(const GrayImage& s, int sx, int sy) {
  return s.pixels[static_cast<size_t>(reflect_101(sy, s.height) * s.width + reflect_101(sx, s.width))];
}

void check_source(const GrayImage& src, const char* op) {
  PLEURA_CHECK(src.height > 0 && src.width > 0, "[", op, "] empty source image (", src.height, "x", src.width, ")");
  PLEURA_CHECK(static_cast<int64_t>(src.pixels.size()) == src.height * src.width, "[", op, "] image holds ",
               src.pixels.size(), " bytes, expected ", src.height, "x", src.width);
  PLEURA_CHECK(src.height < 32768 && src.width < 32768, "[", op, "] image ", src.height, "x", src.width,
               " is larger than OpenCV's 16-bit coordinate limit");
}

}  // namespace

Affine invert_affine(const Affine& a) {
  const auto& m = a.m;
  double d = m[0] * m[4] - m[1] * m[3];
  d = d != 0.0 ? 1.0 / d : 0.0;
  Affine r;
  r.m[0] = m[4] * d;
  r.m[1] = m[1] * -d;
  r.m[3] = m[3] * -d;
  r.m[4] = m[0] * d;
  r.m[2] = -r.m[0] * m[2] - r.m[1] * m[5];
  r.m[5] = -r.m[3] * m[2] - r.m[4] * m[5];
  return r;
}

GrayImage warp_affine(const GrayImage& src, const Affine& forward, Interp interp) {
  check_source(src, "warp_affine");
  const Affine inv = invert_affine(forward);
  const auto& m = inv.m;
  const int64_t h = src.height, w = src.width;
  GrayImage out(h, w);
  std::vector<int> adelta(static_cast<size_t>(w)), bdelta(static_cast<size_t>(w));
  for (int64_t x = 0; x < w; ++x) {
    adelta[x] = round_int(m[0] * static_cast<double>(x) * kAbScale);
    bdelta[x] = round_int(m[3] * static_cast<double>(x) * kAbScale);
  }
  const bool nearest = interp == Interp::kNearest;
  const int round_delta = nearest ? (1 << kAbBits) / 2 : (1 << kAbBits) / kInterTab / 2;
  for (int64_t y = 0; y < h; ++y) {
    const int x0 = round_int((m[1] * static_cast<double>(y) + m[2]) * kAbScale) + round_delta;
    const int y0 = round_int((m[4] * static_cast<double>(y) + m[5]) * kAbScale) + round_delta;
    uint8_t* row = out.pixels.data() + y * w;
    if (nearest) {
      for (int64_t x = 0; x < w; ++x) {
        row[x] = sample_nearest(src, to_short((x0 + adelta[x]) >> kAbBits), to_short((y0 + bdelta[x]) >> kAbBits));
      }
    } else {
      for (int64_t x = 0; x < w; ++x) {
        const int X = (x0 + adelta[x]) >> (kAbBits - kInterBits);
        const int Y = (y0 + bdelta[x]) >> (kAbBits - kInterBits);
        row[x] = sample_linear(src, to_short(X >> kInterBits), to_short(Y >> kInterBits), X & (kInterTab - 1),
                               Y & (kInterTab - 1));
      }
    }
  }
  return out;
}

GrayImage remap(const GrayImage& src, const RemapField& field, Interp interp) {
  check_source(src, "remap");
  const size_t n = static_cast<size_t>(field.height * field.width);
  PLEURA_CHECK(field.height > 0 && field.width > 0 && field.map_x.size() == n && field.map_y.size() == n,
               "[remap] field ", field.height, "x", field.width, " holds ", field.map_x.size(), " x and ",
               field.map_y.size(), " y entries, expected ", n, " each");
  GrayImage out(field.height, field.width);
  const float* mx = field.map_x.data();
  const float* my = field.map_y.data();
  uint8_t* o = out.pixels.data();
  if (interp == Interp::kNearest) {
    for (size_t i = 0; i < n; ++i) o[i] = sample_nearest(src, to_short(round_int(mx[i])), to_short(round_int(my[i])));
  } else {
    for (size_t i = 0; i < n; ++i) {
      // map * 32 is exact in float (a power of two), so only the rounding to an integer matters.
      const int X = round_int(mx[i] * static_cast<float>(kInterTab));
      const int Y = round_int(my[i] * static_cast<float>(kInterTab));
      o[i] = sample_linear(src, to_short(X >> kInterBits), to_short(Y >> kInterBits), X & (kInterTab - 1),
                           Y & (kInterTab - 1));
    }
  }
  return out;
}

}  // namespace pleura::augment
