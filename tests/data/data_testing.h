// Helpers for the data tests: SHA-256 of a byte buffer, a self-deleting temporary folder, seeded random
// masks and images, a loader item. Implemented in data_testing.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/loader.h"

namespace pleura::testing {

// Lower-case hex SHA-256 (FIPS 180-4) of `size` bytes.
std::string sha256_hex(const void* data, size_t size);
inline std::string sha256_hex(const std::vector<uint8_t>& bytes) { return sha256_hex(bytes.data(), bytes.size()); }

// A fresh folder under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// An H x W image of uniform random bytes in [lo, hi] from a fixed seed.
GrayImage random_gray(int64_t height, int64_t width, uint64_t seed, int lo = 0, int hi = 255);

// A 0/255 mask of random blobs (roughly `fill` of the pixels on) from a fixed seed.
GrayImage random_mask(int64_t height, int64_t width, uint64_t seed, double fill = 0.2);

// Reads a whole file as bytes (for comparing outputs byte for byte).
std::string slurp(const std::string& path);

// Loader item i: a 48x40 gradient image depending on i, and a rectangle mask whose corner depends on i.
Sample synthetic_item(int64_t i);

}  // namespace pleura::testing
