// NumPy .npy files, format version 1.0 (and 2.0 on read): little-endian, C order; float32, float64,
// uint8 and int64. Used by tests, golden data and tools.
#pragma once

#include <string>

#include "engine/tensor.h"

namespace pleura {

// Reads a CPU tensor. Errors name the file and what was wrong (dtype, order, shape, length).
Tensor read_npy(const std::string& path);
// Writes atomically (temporary file, then rename). Any device; the data is copied to the host.
void write_npy(const std::string& path, const Tensor& t);

// The same, on bytes in memory.
Tensor parse_npy(const std::string& bytes, const std::string& name);
std::string format_npy(const Tensor& t);

}  // namespace pleura
