// Connected components of binary masks (8-connectivity) and the removal of small ones, rle_submit's
// --min-component N. Tests: tests/eval/test_components.cpp.
//
// How this relates to the reference (TripletSubmit.remove_smallest, MIN_CONTOUR_AREA): the reference
// finds contours (cv2.findContours, RETR_TREE), keeps those whose polygon area (cv2.contourArea, through
// the centres of the boundary pixels) is > min_contour_area, and redraws the kept ones filled. Pleura
// instead counts the pixels of each 8-connected component and keeps those with >= N pixels, leaving the
// other pixels as they are. Differences, deliberate (a pixel count is what "a component under N pixels"
// means, and it does not depend on the outline's shape):
//  - a blob's contour area is smaller than its pixel count (a k x k square: (k-1)^2 against k^2; a
//    single pixel or a one-pixel-wide line: 0), so the same number keeps more blobs here;
//  - the reference's filled redraw also fills holes inside kept blobs (and draws hole contours); Pleura
//    never adds pixels.
// Both apply at the map's resolution, before the mask is resized to 1024.
#pragma once

#include <cstdint>
#include <vector>

#include "data/image.h"

namespace pleura::eval {

// Labels of the non-zero pixels of `mask` (8-connectivity): labels[y*W + x] = 0 for background, else
// 1..count in the order each component is first met in row-major order. Returns the count; sizes (if
// given) receives each component's pixel count (sizes[label - 1]).
int64_t label_components(const GrayImage& mask, std::vector<int32_t>& labels, std::vector<int64_t>* sizes = nullptr);

// Sets to 0 the pixels of every 8-connected component with fewer than `min_pixels` pixels. Returns how
// many components were removed. min_pixels <= 1 removes nothing.
int64_t remove_small_components(GrayImage& mask, int64_t min_pixels);

}  // namespace pleura::eval
