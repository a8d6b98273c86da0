// maximum: elementwise max of two same-shape tensors (the "maxout" merge of the SCSE module).
// CPU kernels in cpu/maximum.cpp, CUDA kernels in cuda/maximum.cu, tests in tests/ops/test_maximum.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// a, b: the same shape (any rank), dtype and device. Returns max(a, b) elementwise; NaN in either
// gives NaN, as torch.maximum. Gradient as torch.maximum (torch >= 1.7): to a where a > b, to b where
// a < b, and split in halves where a == b.
Tensor maximum(const Tensor& a, const Tensor& b);

namespace cpu {
void maximum_fwd(const Tensor& a, const Tensor& b, Tensor& out);
// grad_a = grad_out where a > b, grad_out / 2 where a == b, 0 where a < b; grad_b mirrored. Where
// a or b is NaN both get grad_out (PyTorch's formula: no comparison holds). A null pointer skips
// that gradient.
void maximum_bwd(const Tensor& a, const Tensor& b, const Tensor& grad_out, Tensor* grad_a, Tensor* grad_b);
}  // namespace cpu
namespace cuda {
void maximum_fwd(const Tensor& a, const Tensor& b, Tensor& out);
void maximum_bwd(const Tensor& a, const Tensor& b, const Tensor& grad_out, Tensor* grad_a, Tensor* grad_b);
}  // namespace cuda

}  // namespace pleura
