// Shared argument checks for op entry points (see op_checks.h).
#include "engine/op_checks.h"

#include "engine/dispatch.h"

namespace pleura {

void throw_built_without_cuda(const char* op) {
  throw_error(cat("[", op, "] a CUDA tensor was given, but Pleura was built without CUDA "
                  "(configure with -DPLEURA_CUDA=ON where the CUDA toolkit is installed)"));
}

void check_defined(const Tensor& t, const char* op, const char* arg) {
  PLEURA_CHECK(t.defined(), "[", op, "] ", arg, " is an undefined tensor");
}

void check_float(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  DType dt = t.dtype();
  if (t.device().is_cuda()) {
    PLEURA_CHECK(dt == DType::kFloat32, "[", op, "] ", arg, " has dtype ", dtype_name(dt),
                 ", expected float32 on CUDA (", arg, " ", describe(t), ")");
  } else {
    PLEURA_CHECK(dt == DType::kFloat32 || dt == DType::kFloat64, "[", op, "] ", arg, " has dtype ",
                 dtype_name(dt), ", expected float32 or float64 (", arg, " ", describe(t), ")");
  }
}

void check_ndim(const Tensor& t, int ndim, const char* op, const char* arg) {
  PLEURA_CHECK(t.ndim() == ndim, "[", op, "] ", arg, " has ", t.ndim(), " dims, expected ", ndim,
               " (", arg, " ", describe(t), ")");
}

void check_same_place(const Tensor& t, const Tensor& ref, const char* op, const char* arg,
                      const char* ref_arg) {
  PLEURA_CHECK(t.device() == ref.device(), "[", op, "] ", arg, " is on ", t.device().str(), " but ",
               ref_arg, " is on ", ref.device().str());
  PLEURA_CHECK(t.dtype() == ref.dtype(), "[", op, "] ", arg, " has dtype ", dtype_name(t.dtype()),
               " but ", ref_arg, " has dtype ", dtype_name(ref.dtype()));
}

void check_same_shape(const Tensor& t, const Tensor& ref, const char* op, const char* arg,
                      const char* ref_arg) {
  PLEURA_CHECK(t.shape() == ref.shape(), "[", op, "] ", arg, " has shape ", t.shape().str(),
               ", expected the shape of ", ref_arg, " ", ref.shape().str());
}

void check_float_nd(const Tensor& t, int ndim, const char* op, const char* arg) {
  check_float(t, op, arg);
  check_ndim(t, ndim, op, arg);
}

}  // namespace pleura
