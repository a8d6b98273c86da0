// Rng and the random tensor constructors declared in random.h.
#include "engine/random.h"

#include <cmath>
#include <vector>

namespace pleura {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

uint64_t Rng::next_u64() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 0.0;
  while (u1 <= 0.0) u1 = uniform();
  double u2 = uniform();
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * M_PI * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

uint64_t Rng::below(uint64_t n) {
  PLEURA_CHECK(n > 0, "[rng] below(0)");
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = next_u64();
  } while (x >= limit);
  return x % n;
}

namespace {

// A tensor drawn on the host, on `device`: moved there on a GPU; on the CPU the tensor itself, since
// to(Device::cpu()) would count a host read (engine/counters.h) that nothing makes.
Tensor on_device(const Tensor& host, Device device) { return device.is_cpu() ? host : host.to(device); }

}  // namespace

Tensor randn(const Shape& shape, Rng& rng, DType dtype, Device device, double mean, double stddev) {
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (double& x : v) x = mean + stddev * rng.normal();
  return on_device(Tensor::from_vector(v, shape, dtype), device);
}

Tensor rand_uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype, Device device) {
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (double& x : v) x = rng.uniform(lo, hi);
  return on_device(Tensor::from_vector(v, shape, dtype), device);
}

}  // namespace pleura
