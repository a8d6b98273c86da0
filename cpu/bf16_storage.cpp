// CPU kernels of bf16_storage (engine/ops/bf16_storage.h); twin: cuda/bf16_storage.cu (the same bf16_bits and
// bf16_value).
#include "engine/ops/bf16_storage.h"

#include "engine/parallel.h"

namespace pleura::cpu {

void to_bf16_storage(const Tensor& x, Tensor& out) {
  const float* src = x.data<float>();
  auto* dst = static_cast<uint16_t*>(out.raw());
  parallel_for(x.numel(), 1 << 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) dst[i] = bf16_bits(src[i]);
  });
}

void from_bf16_storage(const Tensor& x, Tensor& out) {
  const auto* src = static_cast<const uint16_t*>(x.raw());
  float* dst = out.data<float>();
  parallel_for(x.numel(), 1 << 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) dst[i] = bf16_value(src[i]);
  });
}

}  // namespace pleura::cpu
