// Connected components by flood fill with an explicit stack (see components.h).
#include "eval/components.h"

#include "engine/error.h"

namespace pleura::eval {

int64_t label_components(const GrayImage& mask, std::vector<int32_t>& labels, std::vector<int64_t>* sizes) {
  const int64_t H = mask.height, W = mask.width;
  PLEURA_CHECK(static_cast<int64_t>(mask.pixels.size()) == H * W && H * W < (int64_t{1} << 31),
               "[components] mask of ", H, "x", W, " holds ", mask.pixels.size(), " bytes");
  labels.assign(static_cast<size_t>(H * W), 0);
  if (sizes) sizes->clear();
  std::vector<int32_t> stack;
  int32_t count = 0;
  for (int64_t start = 0; start < H * W; ++start) {
    if (mask.pixels[static_cast<size_t>(start)] == 0 || labels[static_cast<size_t>(start)] != 0) continue;
    const int32_t label = ++count;
    int64_t pixels = 0;
    labels[static_cast<size_t>(start)] = label;
    stack.push_back(static_cast<int32_t>(start));
    while (!stack.empty()) {
      const int32_t i = stack.back();
      stack.pop_back();
      ++pixels;
      const int64_t y = i / W, x = i % W;
      // The 8 neighbours inside the image; each pixel is labelled when pushed, so it is pushed once.
      for (int64_t ny = y - 1; ny <= y + 1; ++ny) {
        if (ny < 0 || ny >= H) continue;
        for (int64_t nx = x - 1; nx <= x + 1; ++nx) {
          if (nx < 0 || nx >= W) continue;
          const size_t j = static_cast<size_t>(ny * W + nx);
          if (mask.pixels[j] != 0 && labels[j] == 0) {
            labels[j] = label;
            stack.push_back(static_cast<int32_t>(j));
          }
        }
      }
    }
    if (sizes) sizes->push_back(pixels);
  }
  return count;
}

int64_t remove_small_components(GrayImage& mask, int64_t min_pixels) {
  if (min_pixels <= 1) return 0;
  std::vector<int32_t> labels;
  std::vector<int64_t> sizes;
  label_components(mask, labels, &sizes);
  int64_t removed = 0;
  for (int64_t s : sizes) removed += s < min_pixels;
  if (removed == 0) return 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0 && sizes[static_cast<size_t>(labels[i] - 1)] < min_pixels) mask.pixels[i] = 0;
  }
  return removed;
}

}  // namespace pleura::eval
