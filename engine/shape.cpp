// Shape construction, element count and printing.
#include "engine/shape.h"

#include "engine/error.h"

namespace pleura {

Shape::Shape(std::initializer_list<int64_t> sizes) : Shape(std::vector<int64_t>(sizes)) {}

Shape::Shape(const std::vector<int64_t>& sizes) {
  PLEURA_CHECK(sizes.size() <= kMaxDims, "[shape] ", sizes.size(), " dimensions given, at most ",
               kMaxDims, " supported");
  int64_t product = 1;  // of the non-zero sizes, which numel() multiplies
  for (size_t i = 0; i < sizes.size(); ++i) {
    PLEURA_CHECK(sizes[i] >= 0, "[shape] dimension ", i, " has negative size ", sizes[i]);
    sizes_[i] = sizes[i];
    if (sizes[i] != 0 && __builtin_mul_overflow(product, sizes[i], &product)) {
      ndim_ = static_cast<int>(i + 1);
      throw_error(cat("[shape] sizes ", str(), "... multiply past a 64-bit element count"));
    }
  }
  ndim_ = static_cast<int>(sizes.size());
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) {
    if (sizes_[i] == 0) return 0;  // before a product of the others could overflow
    n *= sizes_[i];
  }
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim_; ++i) {
    if (i) s += ", ";
    s += std::to_string(sizes_[i]);
  }
  return s + "]";
}

bool Shape::operator==(const Shape& o) const {
  if (ndim_ != o.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (sizes_[i] != o.sizes_[i]) return false;
  return true;
}

}  // namespace pleura
