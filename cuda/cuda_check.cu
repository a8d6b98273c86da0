// The reporting behind the PLEURA_*_CHECK macros of cuda_check.h.
#include "cuda/cuda_check.h"

#include <cstdio>
#include <string>

#include "engine/error.h"

namespace pleura::cuda {

namespace {
std::string format(const char* library, long code, const char* status, const char* call, const char* func,
                   const char* file, int line) {
  int device = -1;
  cudaGetDevice(&device);  // best effort: unchecked on purpose, we are already reporting an error
  return cat("[", func, "] ", library, " error ", code, " (", status ? status : "?", ") in ", call, " at ",
             file, ":", line, " on cuda:", device);
}
}  // namespace

void throw_status(const char* library, long code, const char* status, const char* call, const char* func,
                  const char* file, int line) {
  throw_error(format(library, code, status, call, func, file, line));
}

void log_status(const char* library, long code, const char* status, const char* call, const char* func,
                const char* file, int line) {
  std::fprintf(stderr, "pleura: %s\n", format(library, code, status, call, func, file, line).c_str());
}

}  // namespace pleura::cuda
