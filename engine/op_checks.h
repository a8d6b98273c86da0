// Argument checks shared by op entry points. Each throws pleura::Error naming the op, the argument,
// what it saw and what it expected, e.g. "[conv2d] weight has 3 dims, expected 4 (weight float32[...])".
#pragma once

#include <string>

#include "engine/tensor.h"

namespace pleura {

void check_defined(const Tensor& t, const char* op, const char* arg);
// float32 or float64 on the CPU; float32 on CUDA.
void check_float(const Tensor& t, const char* op, const char* arg);
void check_ndim(const Tensor& t, int ndim, const char* op, const char* arg);
// Same device and dtype as `ref`.
void check_same_place(const Tensor& t, const Tensor& ref, const char* op, const char* arg,
                      const char* ref_arg);
void check_same_shape(const Tensor& t, const Tensor& ref, const char* op, const char* arg,
                      const char* ref_arg);
// check_defined + check_float + check_ndim in one call.
void check_float_nd(const Tensor& t, int ndim, const char* op, const char* arg);

}  // namespace pleura
