// concat: concatenation along the channel dim (the UNet skip connections). CPU kernels in
// cpu/concat.cpp, CUDA kernels in cuda/concat.cu, tests in tests/ops/test_concat.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace pleura {

// xs: one or more float tensors [N, C_k, H, W] with equal N, H, W, dtype and device (C_k may differ,
// and may be 0). Returns [N, sum C_k, H, W] with xs[k] in channels [offset_k, offset_k + C_k),
// offset_k = C_0 + ... + C_{k-1}. The gradient of xs[k] is that channel range of the output gradient.
Tensor concat(const std::vector<Tensor>& xs);

// Checks xs as concat does (naming `op` in its errors) and gives where each input goes.
struct ConcatLayout {
  std::vector<Shape> shapes;        // of each input
  std::vector<int64_t> offsets;     // its first channel in the concatenation
  std::vector<const Tensor*> inputs;
  int64_t channels = 0;             // sum C_k
};
ConcatLayout concat_layout(const std::vector<Tensor>& xs, const char* op);

namespace cpu {
// Copies each xs[k] into its channel range of out [N, sum C_k, H, W].
void concat_fwd(const std::vector<Tensor>& xs, Tensor& out);
// For every defined grads[k] (shape [N, C_k, H, W]): grads[k] = channels [offsets[k], offsets[k] + C_k)
// of grad_out. Undefined entries are skipped (inputs that need no gradient).
void concat_bwd(const Tensor& grad_out, const std::vector<int64_t>& offsets, std::vector<Tensor>& grads);
}  // namespace cpu
namespace cuda {
void concat_fwd(const std::vector<Tensor>& xs, Tensor& out);
void concat_bwd(const Tensor& grad_out, const std::vector<int64_t>& offsets, std::vector<Tensor>& grads);
}  // namespace cuda

}  // namespace pleura
