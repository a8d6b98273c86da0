// CPU kernel of copy_tensors (engine/ops/copy_tensors.h); twin: cuda/copy_tensors.cu.
#include "engine/ops/copy_tensors.h"

#include <cstring>

namespace pleura::cpu {

void copy_tensors(const std::vector<Tensor>& src, std::vector<Tensor>& dst) {
  for (size_t i = 0; i < src.size(); ++i) std::memcpy(dst[i].raw(), src[i].raw(), src[i].nbytes());
}

}  // namespace pleura::cpu
