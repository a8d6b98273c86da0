// Test helpers: the reference state_dict key lists (tests/fixtures/reference/keys_<model>.txt) and
// stand-in models built from them (one random tensor per key), for tests/layers/test_state_dict.cpp
// and tests/layers/test_pretrained.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/random.h"
#include "layers/state_dict.h"

namespace pleura::testing {

struct ReferenceKey {
  std::string name;
  Shape shape;
  DType dtype = DType::kFloat32;
  std::string alias_of;  // "= canonical key" annotation (AlbuNet's conv1..conv5), else empty
};

// Lines "name<TAB>[d0, d1, ...]<TAB>float32|int64[  = canonical]" of keys_<model>.txt.
std::vector<ReferenceKey> read_reference_keys(const std::string& model);

// float32 values uniform in [-1, 1) on a 2^-23 grid, seeded by rng.
Tensor random_floats(const Shape& shape, Rng& rng);

// A model's tensors under reference names: random floats from `seed`, num_batches_tracked = an int64
// derived from the seed and the key's position. Alias keys share their canonical key's Tensor, as
// PyTorch's state_dict does.
struct FakeModel {
  std::map<std::string, Tensor> tensors;  // canonical keys only; std::map keeps the Tensor addresses stable
  Slots slots;                            // in the key file's order
};
// include(key) chooses the keys that become slots; aliases need their canonical key included.
FakeModel make_fake_model(const std::vector<ReferenceKey>& keys, uint64_t seed,
                          bool (*include)(const ReferenceKey&) = nullptr);

// Exact equality of dtype, shape and bytes (CPU tensors).
bool same_tensor(const Tensor& a, const Tensor& b);
// Deep copies of every slot's tensor, by slot name, to compare against after a load.
std::map<std::string, Tensor> snapshot(const Slots& slots);

}  // namespace pleura::testing
