// Tensor shapes: up to kMaxDims sizes, stored inline. Layout is always contiguous, row-major (NCHW).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace pleura {

class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> sizes);
  explicit Shape(const std::vector<int64_t>& sizes);

  int ndim() const { return ndim_; }
  int64_t operator[](int i) const { return sizes_[i]; }
  int64_t& operator[](int i) { return sizes_[i]; }
  int64_t numel() const;
  std::vector<int64_t> vec() const { return {sizes_.begin(), sizes_.begin() + ndim_}; }
  // "[2, 3, 4, 4]"
  std::string str() const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::array<int64_t, kMaxDims> sizes_{};
  int ndim_ = 0;
};

}  // namespace pleura
