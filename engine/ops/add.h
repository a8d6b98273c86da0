// add: out = a + b, elementwise, same shapes. CPU kernel in cpu/add.cpp, CUDA kernel in cuda/add.cu,
// tests in tests/ops/test_add.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// a, b: any shape, equal shapes, same dtype and device. Returns a tensor of that shape.
Tensor add(const Tensor& a, const Tensor& b);
// The same, written over a when can_overwrite(a) (engine/autograd.h): a temporary in inference.
Tensor add(Tensor&& a, const Tensor& b);

namespace cpu {
// out may alias a or b (used for in-place gradient accumulation).
void add_fwd(const Tensor& a, const Tensor& b, Tensor& out);
}  // namespace cpu
namespace cuda {
void add_fwd(const Tensor& a, const Tensor& b, Tensor& out);
}  // namespace cuda

}  // namespace pleura
