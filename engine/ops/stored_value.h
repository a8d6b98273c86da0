// stored_value: an element's value as the kernels of both backends read it, whatever it is stored as: a
// float or double as it is, a bfloat16 (its 16 bits; the copies backward keeps under the bf16 policy,
// engine/saved_activation.h) widened exactly to float. Lets one kernel template read a kept bfloat16 copy
// where it read the float32 tensor (relu, batch norm and gated_residual_relu backward).
#pragma once

#include <cstdint>

#include "engine/ops/round_bf16.h"
#include "engine/tensor.h"

namespace pleura {

PLEURA_HOST_DEVICE inline float stored_value(float v) { return v; }
PLEURA_HOST_DEVICE inline double stored_value(double v) { return v; }
PLEURA_HOST_DEVICE inline float stored_value(uint16_t bf16) { return bf16_value(bf16); }

// Calls f with t's data as a kernel reads it: const T*, or the bits (const uint16_t*) of a bfloat16 tensor.
template <class T, class F>
void with_stored_data(const Tensor& t, F&& f) {
  if (t.dtype() == DType::kBFloat16)
    f(static_cast<const uint16_t*>(t.raw()));
  else
    f(t.data<T>());
}

}  // namespace pleura
