// Per-device CUDA state: the compute stream every op runs on, and the cuBLAS and cuDNN handles bound
// to it. Also move-only RAII holders for the handles and the device guard.
#pragma once

#include "cuda/cuda_check.h"

namespace pleura::cuda {

cudaStream_t stream(int device);
cublasHandle_t cublas(int device);
cudnnHandle_t cudnn(int device);
// Applies the math mode (engine/cuda_runtime.h) to a cuBLAS handle before a product.
void apply_math_mode(cublasHandle_t handle);
bool tf32_allowed();

// Makes `device` current for its scope.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

}  // namespace pleura::cuda
