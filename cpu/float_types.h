// Runs a kernel body templated on the element type of a float32 or float64 tensor.
#pragma once

#include "engine/error.h"
#include "engine/tensor.h"

namespace pleura::cpu {

// fn receives a value of the element type: fn(float{}) or fn(double{}).
template <class Fn>
void with_float_type(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::kFloat32: fn(float{}); return;
    case DType::kFloat64: fn(double{}); return;
    default:
      throw_error(cat("[", op, "] CPU kernel got dtype ", dtype_name(dtype), ", expected float32 or float64"));
  }
}

}  // namespace pleura::cpu
