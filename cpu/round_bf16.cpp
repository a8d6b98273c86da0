// CPU kernel of round_bf16 (engine/ops/round_bf16.h); twin: cuda/round_bf16.cu. The rounding itself is
// round_to_bf16, shared with the CUDA kernel.
#include "engine/ops/round_bf16.h"

#include "engine/parallel.h"

namespace pleura::cpu {

void round_bf16(const Tensor& x, Tensor& out) {
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  parallel_for(x.numel(), 1 << 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) dst[i] = round_to_bf16(src[i]);
  });
}

}  // namespace pleura::cpu
