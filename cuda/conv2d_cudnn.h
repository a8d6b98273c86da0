// cuDNN plumbing for conv2d (used by cuda/conv2d.cu; CPU twin of the op: cpu/conv2d.cpp): move-only owners
// of the legacy descriptors, the choice of algorithm (made once per shape/params/math mode/storage/pass and
// policy, and cached) and the call of each pass.
// Implemented in cuda/conv2d_cudnn.cu; exercised by the gpu suite of tests/ops/test_conv2d.cpp.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <utility>

#include "cuda/cuda_check.h"
#include "engine/ops/conv2d.h"

namespace pleura::cuda {

// Owns one cuDNN descriptor. Destruction only logs a failure: it may run while an exception unwinds.
template <class Handle, cudnnStatus_t (*Destroy)(Handle)>
class CudnnDescriptor {
 public:
  CudnnDescriptor() = default;
  ~CudnnDescriptor() { reset(); }
  CudnnDescriptor(CudnnDescriptor&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
  CudnnDescriptor& operator=(CudnnDescriptor&& o) noexcept {
    if (this != &o) {
      reset();
      handle_ = std::exchange(o.handle_, nullptr);
    }
    return *this;
  }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;

  Handle get() const { return handle_; }
  // For the cudnnCreate* call, which writes the new handle here.
  Handle* out() { return &handle_; }

 private:
  void reset() {
    if (handle_ != nullptr) PLEURA_CUDNN_CHECK_LOG(Destroy(handle_));
    handle_ = nullptr;
  }
  Handle handle_ = nullptr;
};

using TensorDescriptor = CudnnDescriptor<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDescriptor = CudnnDescriptor<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor = CudnnDescriptor<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;

// The descriptors of one conv2d call: x (also grad_x), y (also grad_y), w (also grad_w), the convolution.
struct ConvDescriptors {
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
};
// The element type and order of x, w and y in cuDNN's pass (the convolution accumulates in float32 either
// way): float32 NCHW, or bfloat16 channels last (engine/precision.h's bf16 policy: NHWC activations and
// KRSC weights, the order of the tensor cores' kernels, with float32 accumulation).
enum class ConvStorage { kFloat32, kBFloat16 };

// Descriptors for x [N,C,H,W] and w [K,C/groups,R,S] of that storage; y is [N,K,P,Q] (checked against
// cuDNN).
ConvDescriptors make_conv_descriptors(const Tensor& x, const Tensor& w, const Conv2dParams& p,
                                      ConvStorage storage = ConvStorage::kFloat32);

enum class ConvPass { kForward, kBackwardData, kBackwardFilter };

struct ConvAlgo {
  int algo = 0;  // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t, by pass
  cudnnMathType_t math = CUDNN_FMA_MATH;
  size_t workspace_bytes = 0;
};

// The data of one pass, in cuDNN's order: forward x, w -> y; backward data w, grad_y -> grad_x; backward
// filter x, grad_y -> grad_w (device pointers of the descriptors' storage type).
struct PassOperands {
  const void* a = nullptr;
  const void* b = nullptr;
  void* out = nullptr;
};
// Gives the pass's operands when the measured choice needs them to time candidates (not called when the
// choice is cached or reproducible). The candidates write `out` with beta = 0: the real call comes after.
using PassOperandsFn = std::function<PassOperands()>;

// out = conv_pass(a, b) + beta * out with algorithm `a` (whose math type the caller has set on d.conv, as
// conv_algo leaves it) and a workspace of a.workspace_bytes. Returns cuDNN's status (not thrown).
cudnnStatus_t run_conv_pass(cudnnHandle_t handle, ConvPass pass, const ConvDescriptors& d, const ConvAlgo& algo,
                            void* workspace, const PassOperands& o, float beta);

// A workspace of a.workspace_bytes from the caching allocator (stream-ordered, so it may be reused as soon
// as the op returns); undefined when none is needed. conv_workspace_ptr: its pointer, or null.
Tensor conv_workspace(const ConvAlgo& a, Device device);
void* conv_workspace_ptr(const Tensor& ws);

// The algorithm for this pass of float32 descriptors, from the cache or chosen now by the
// ConvAlgorithmChoice (engine/conv_algorithm_choice.h: timed on `operands`, or cuDNN's ranking with
// deterministic algorithms first); in strict FP32 only FMA-math algorithms that sum products directly.
// Leaves d.conv set to the chosen math type. Throws when cuDNN offers none.
ConvAlgo conv_algo(cudnnHandle_t handle, int device, ConvPass pass, const Tensor& x, const Tensor& w,
                   const Conv2dParams& p, ConvDescriptors& d, const PassOperandsFn& operands);

// The same for bfloat16 descriptors (tensor-core math, algorithms that sum products directly); nullopt
// when cuDNN offers none for this shape on this device (then conv2d keeps the float32 pass). Remembered
// either way.
std::optional<ConvAlgo> conv_algo_bf16(cudnnHandle_t handle, int device, ConvPass pass, const Tensor& x,
                                       const Tensor& w, const Conv2dParams& p, ConvDescriptors& d,
                                       const PassOperandsFn& operands);

// conv2d_fwd's float32 pass, for a caller with an epilogue of its own (cuda/conv2d_relu.cu): y = conv(x, w),
// the bias left for the caller to add (the sum first, then + bias, as the CPU).
void conv2d_fwd_bias_deferred(const Tensor& x, const Tensor& w, const Conv2dParams& p, Tensor& y);

// conv2d_relu's forward under the bf16 policy: the bfloat16 pass (its output rounded after the bias), then
// relu(that + residual) as it is widened to float32 (residual undefined: relu alone); false, with nothing
// done, where cuDNN has no bfloat16 algorithm for it.
bool conv2d_relu_fwd_bf16(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                          const Tensor& residual, Tensor& y);

}  // namespace pleura::cuda
