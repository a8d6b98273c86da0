// Fuzz targets of the tensor files: safetensors (engine/safetensors.h) and .npy (engine/npy.h). What a
// reader accepts must write back and read again to the same names, shapes, dtypes and bytes.
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/npy.h"
#include "engine/safetensors.h"
#include "tests/fuzz/fuzz_targets.h"

namespace pleura::fuzz {
namespace {

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

}  // namespace

int fuzz_safetensors(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  refused_ok([&] {
    std::map<std::string, std::string> metadata;
    const std::vector<NamedTensor> tensors = parse_safetensors(bytes, "fuzz.safetensors", &metadata);
    // F16 / BF16 come back as float32 and are written as F32: names, shapes and values survive.
    const std::vector<NamedTensor> again =
        parse_safetensors(format_safetensors(tensors, metadata), "round-trip.safetensors");
    require(again.size() == tensors.size(), "safetensors round trip changed the tensor count");
    for (size_t i = 0; i < tensors.size(); ++i) {
      require(again[i].name == tensors[i].name, "safetensors round trip changed a name or the order");
      require(same_tensor(again[i].tensor, tensors[i].tensor), "safetensors round trip changed a tensor");
    }
  });
  return 0;
}

int fuzz_npy(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  refused_ok([&] {
    const Tensor t = parse_npy(bytes, "fuzz.npy");
    const Tensor again = parse_npy(format_npy(t), "round-trip.npy");
    require(same_tensor(t, again), "npy round trip changed the tensor");
  });
  return 0;
}

}  // namespace pleura::fuzz
