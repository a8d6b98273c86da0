// CPU kernels of concat (engine/ops/concat.h); twin: cuda/concat.cu.
// In NCHW each sample of input k is one contiguous block of C_k*H*W values, placed at channel offset
// offset_k of the same sample in the output: a strided block copy, parallel over (n, input) pairs.
#include <cstring>

#include "cpu/float_types.h"
#include "engine/parallel.h"
#include "engine/ops/concat.h"

namespace pleura::cpu {

namespace {

// kToOut: the block of `whole` <- part (forward); kFromOut: part <- the block of `whole` (backward).
enum class CopyDir { kToOut, kFromOut };

void copy_blocks(const std::vector<const Tensor*>& parts, const std::vector<int64_t>& offsets, const Tensor& whole,
                 CopyDir dir) {
  const int64_t N = whole.size(0), C = whole.size(1), HW = whole.size(2) * whole.size(3);
  const size_t elem = dtype_size(whole.dtype());
  char* base = static_cast<char*>(whole.raw());
  const int64_t K = static_cast<int64_t>(parts.size());
  parallel_for(N * K, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / K, k = t % K;
      const Tensor* part = parts[k];
      if (part == nullptr) continue;
      const int64_t ck = part->size(1);
      const size_t bytes = static_cast<size_t>(ck * HW) * elem;
      if (bytes == 0) continue;
      char* whole_block = base + static_cast<size_t>((n * C + offsets[k]) * HW) * elem;
      char* part_block = static_cast<char*>(part->raw()) + static_cast<size_t>(n) * bytes;
      if (dir == CopyDir::kToOut) {
        std::memcpy(whole_block, part_block, bytes);
      } else {
        std::memcpy(part_block, whole_block, bytes);
      }
    }
  });
}

}  // namespace

void concat_fwd(const std::vector<Tensor>& xs, Tensor& out) {
  // Dtype check only: the copy itself is untyped.
  with_float_type(out.dtype(), "concat", [](auto) {});
  std::vector<const Tensor*> parts;
  std::vector<int64_t> offsets;
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    parts.push_back(&x);
    offsets.push_back(offset);
    offset += x.size(1);
  }
  copy_blocks(parts, offsets, out, CopyDir::kToOut);
}

void concat_bwd(const Tensor& grad_out, const std::vector<int64_t>& offsets, std::vector<Tensor>& grads) {
  with_float_type(grad_out.dtype(), "concat", [](auto) {});
  std::vector<const Tensor*> parts;  // the tensors' data is written, not the handles
  for (const Tensor& g : grads) parts.push_back(g.defined() ? &g : nullptr);
  copy_blocks(parts, offsets, grad_out, CopyDir::kFromOut);
}

}  // namespace pleura::cpu
