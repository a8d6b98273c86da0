// Status checks for CUDA, cuBLAS and cuDNN calls. A failure throws pleura::Error naming the library,
// the status, the call text, the function (the op's launcher), file:line and the current device.
// The _LOG forms only print: use them in destructors.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/counters.h"

namespace pleura::cuda {

[[noreturn]] void throw_status(const char* library, long code, const char* status, const char* call,
                               const char* func, const char* file, int line);
void log_status(const char* library, long code, const char* status, const char* call, const char* func,
                const char* file, int line);

}  // namespace pleura::cuda

#define PLEURA_CUDA_STATUS_(action, call)                                                        \
  do {                                                                                           \
    cudaError_t pleura_e_ = (call);                                                              \
    if (pleura_e_ != cudaSuccess)                                                                \
      ::pleura::cuda::action("CUDA", static_cast<long>(pleura_e_), cudaGetErrorString(pleura_e_), \
                             #call, __func__, __FILE__, __LINE__);                               \
  } while (0)
#define PLEURA_CUBLAS_STATUS_(action, call)                                                         \
  do {                                                                                              \
    cublasStatus_t pleura_s_ = (call);                                                              \
    if (pleura_s_ != CUBLAS_STATUS_SUCCESS)                                                         \
      ::pleura::cuda::action("cuBLAS", static_cast<long>(pleura_s_), cublasGetStatusString(pleura_s_), \
                             #call, __func__, __FILE__, __LINE__);                                  \
  } while (0)
#define PLEURA_CUDNN_STATUS_(action, call)                                                        \
  do {                                                                                            \
    cudnnStatus_t pleura_s_ = (call);                                                             \
    if (pleura_s_ != CUDNN_STATUS_SUCCESS)                                                        \
      ::pleura::cuda::action("cuDNN", static_cast<long>(pleura_s_), cudnnGetErrorString(pleura_s_), \
                             #call, __func__, __FILE__, __LINE__);                                \
  } while (0)

#define PLEURA_CUDA_CHECK(call) PLEURA_CUDA_STATUS_(throw_status, call)
#define PLEURA_CUBLAS_CHECK(call) PLEURA_CUBLAS_STATUS_(throw_status, call)
#define PLEURA_CUDNN_CHECK(call) PLEURA_CUDNN_STATUS_(throw_status, call)
#define PLEURA_CUDA_CHECK_LOG(call) PLEURA_CUDA_STATUS_(log_status, call)
#define PLEURA_CUBLAS_CHECK_LOG(call) PLEURA_CUBLAS_STATUS_(log_status, call)
#define PLEURA_CUDNN_CHECK_LOG(call) PLEURA_CUDNN_STATUS_(log_status, call)
// After every kernel launch (exactly one per launch): reports a bad launch configuration at the launch
// site, and counts the launch (engine/counters.h).
#define PLEURA_CUDA_LAUNCH_CHECK()                            \
  do {                                                        \
    PLEURA_CUDA_CHECK(cudaGetLastError());                    \
    ::pleura::count(::pleura::Counter::kKernelLaunch);        \
  } while (0)
