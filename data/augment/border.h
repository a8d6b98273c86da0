// Border index rules of the augmentations: OpenCV's BORDER_REFLECT_101 (geometric transforms) and the
// half-sample reflection of scipy.ndimage's mode 'reflect' (the Gaussian blur inside ElasticTransform).
// Tested in tests/data/augment/test_warp.cpp and test_elastic.cpp.
#pragma once

#include <cstdint>

namespace pleura::augment {

// cv2.BORDER_REFLECT_101 ("gfedcb|abcdefgh|gfedcba"): the edge pixel is not repeated. Valid for any p,
// however far outside (cv2's borderInterpolate loops; this is the same map in closed form, period 2n-2).
inline int64_t reflect_101(int64_t p, int64_t n) {
  if (p >= 0 && p < n) return p;
  if (n == 1) return 0;
  const int64_t period = 2 * n - 2;
  int64_t q = p % period;
  if (q < 0) q += period;
  return q < n ? q : period - q;
}

// scipy.ndimage mode 'reflect' = cv2.BORDER_REFLECT ("fedcba|abcdefgh|hgfedcb"): the edge pixel is
// repeated. Period 2n.
inline int64_t reflect_half(int64_t p, int64_t n) {
  if (p >= 0 && p < n) return p;
  const int64_t period = 2 * n;
  int64_t q = p % period;
  if (q < 0) q += period;
  return q < n ? q : period - 1 - q;
}

}  // namespace pleura::augment
