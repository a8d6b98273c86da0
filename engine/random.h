// Seeded random numbers: xoshiro256** seeded through splitmix64, with our own uniform and normal
// transforms, so that a seed gives the same numbers on every platform and standard library.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace pleura {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal();
  // Uniform integer in [0, n), n > 0, without modulo bias.
  uint64_t below(uint64_t n);

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// Tensors of random values (drawn on the CPU in row-major order, then moved to `device`).
Tensor randn(const Shape& shape, Rng& rng, DType dtype = DType::kFloat32, Device device = Device::cpu(),
             double mean = 0.0, double stddev = 1.0);
Tensor rand_uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype = DType::kFloat32,
                    Device device = Device::cpu());

}  // namespace pleura
