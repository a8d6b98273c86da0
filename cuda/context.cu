// Per-device streams and library handles (context.h). They live until the process ends: destroying
// them from static destructors would race the CUDA runtime's own shutdown.
#include "cuda/context.h"

#include <array>
#include <mutex>

#include "engine/cuda_runtime.h"
#include "engine/error.h"

namespace pleura::cuda {

namespace {

constexpr int kMaxDevices = 16;

struct DeviceContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
};

std::mutex g_mutex;
std::array<DeviceContext, kMaxDevices> g_contexts;
MathMode g_math_mode = MathMode::kAllowTF32;

DeviceContext& context(int device) {
  PLEURA_CHECK(device >= 0 && device < kMaxDevices, "[cuda] device index ", device, " out of range");
  DeviceContext& c = g_contexts[device];
  if (c.stream == nullptr) {
    DeviceGuard guard(device);
    PLEURA_CUDA_CHECK(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
  }
  return c;
}

}  // namespace

DeviceGuard::DeviceGuard(int device) {
  PLEURA_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) {
    PLEURA_CUDA_CHECK(cudaSetDevice(device));
    changed_ = true;
  }
}

DeviceGuard::~DeviceGuard() {
  if (changed_) PLEURA_CUDA_CHECK_LOG(cudaSetDevice(previous_));
}

cudaStream_t stream(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return context(device).stream;
}

cublasHandle_t cublas(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceContext& c = context(device);
  if (c.cublas == nullptr) {
    DeviceGuard guard(device);
    PLEURA_CUBLAS_CHECK(cublasCreate(&c.cublas));
    PLEURA_CUBLAS_CHECK(cublasSetStream(c.cublas, c.stream));
  }
  return c.cublas;
}

cudnnHandle_t cudnn(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceContext& c = context(device);
  if (c.cudnn == nullptr) {
    DeviceGuard guard(device);
    PLEURA_CUDNN_CHECK(cudnnCreate(&c.cudnn));
    PLEURA_CUDNN_CHECK(cudnnSetStream(c.cudnn, c.stream));
  }
  return c.cudnn;
}

bool tf32_allowed() { return g_math_mode == MathMode::kAllowTF32; }

void apply_math_mode(cublasHandle_t handle) {
  PLEURA_CUBLAS_CHECK(cublasSetMathMode(handle, tf32_allowed() ? CUBLAS_TF32_TENSOR_OP_MATH
                                                               : CUBLAS_DEFAULT_MATH));
}

void set_math_mode(MathMode mode) { g_math_mode = mode; }
MathMode math_mode() { return g_math_mode; }

}  // namespace pleura::cuda
