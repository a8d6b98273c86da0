// Reference key lists and stand-in models for the weight-loading tests (see reference_keys.h).
#include "tests/layers/reference_keys.h"

#include <cstring>
#include <sstream>

#include "engine/file_io.h"
#include "engine/random.h"
#include "tests/testing.h"

namespace pleura::testing {

std::vector<ReferenceKey> read_reference_keys(const std::string& model) {
  std::string path = std::string(PLEURA_FIXTURES_DIR) + "/reference/keys_" + model + ".txt";
  std::istringstream in(read_file(path));
  std::vector<ReferenceKey> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    REQUIRE_MESSAGE((t1 != std::string::npos && t2 != std::string::npos), path, ": bad line ", line);
    ReferenceKey k;
    k.name = line.substr(0, t1);
    std::string dims = line.substr(t1 + 2, t2 - t1 - 3);  // inside the brackets
    std::vector<int64_t> sizes;
    std::istringstream ds(dims);
    for (std::string d; std::getline(ds, d, ',');) sizes.push_back(std::stoll(d));
    k.shape = Shape(sizes);
    std::string rest = line.substr(t2 + 1);
    k.dtype = rest.compare(0, 5, "int64") == 0 ? DType::kInt64 : DType::kFloat32;
    size_t eq = rest.find("= ");
    if (eq != std::string::npos) k.alias_of = rest.substr(eq + 2);
    out.push_back(k);
  }
  return out;
}

Tensor random_floats(const Shape& shape, Rng& rng) {
  // A 64-bit LCG seeded by the Rng: tens of millions of values per model, where rand_uniform's
  // double staging would dominate the tests' time.
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  uint64_t x = rng.next_u64();
  for (int64_t j = 0, n = t.numel(); j < n; ++j) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    p[j] = static_cast<float>(x >> 40) * 0x1p-23f - 1.0f;
  }
  return t;
}

FakeModel make_fake_model(const std::vector<ReferenceKey>& keys, uint64_t seed, bool (*include)(const ReferenceKey&)) {
  FakeModel m;
  Rng rng(seed);
  for (size_t i = 0; i < keys.size(); ++i) {
    const ReferenceKey& k = keys[i];
    if (include && !include(k)) continue;
    if (!k.alias_of.empty()) {
      auto it = m.tensors.find(k.alias_of);
      REQUIRE_MESSAGE(it != m.tensors.end(), "alias ", k.name, " before its canonical key ", k.alias_of);
      m.slots.emplace_back(k.name, &it->second);
      continue;
    }
    Tensor t;
    if (k.dtype == DType::kInt64) {
      t = Tensor::from_vector({static_cast<double>(seed * 1000 + i)}, k.shape, DType::kInt64);
    } else {
      t = random_floats(k.shape, rng);
    }
    auto [it, fresh] = m.tensors.emplace(k.name, t);
    REQUIRE(fresh);
    m.slots.emplace_back(k.name, &it->second);
  }
  return m;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return a.nbytes() == 0 || std::memcmp(ha.raw(), hb.raw(), a.nbytes()) == 0;
}

std::map<std::string, Tensor> snapshot(const Slots& slots) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : slots) out[name] = t->to(Device::cpu()).clone();
  return out;
}

}  // namespace pleura::testing
