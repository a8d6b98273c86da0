// Element types. float32 is the working type; float64 exists on the CPU for gradient checks;
// uint8 and int64 for data and .npy files. float16/bfloat16 are reserved: tensors may hold them, no
// op computes on them yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pleura {

enum class DType : uint8_t { kFloat32, kFloat64, kUInt8, kInt64, kFloat16, kBFloat16 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

// Maps a C++ element type to its DType at compile time.
template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kFloat32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::kFloat64;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::kUInt8;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::kInt64;
};

}  // namespace pleura
