// batch_norm2d: per-channel batch normalisation of NCHW tensors, with running statistics (PyTorch's
// BatchNorm2d). CPU kernels in cpu/batch_norm.cpp, CUDA kernels in cuda/batch_norm.cu, tests in
// tests/ops/test_batch_norm.cpp.
#pragma once

#include "engine/communicator.h"
#include "engine/tensor.h"

namespace pleura {

struct BatchNormParams {
  bool training = true;   // true: batch statistics, running stats updated; false: running stats used
  double momentum = 0.1;  // running = (1 - momentum) * running + momentum * batch statistic
  double eps = 1e-5;      // added to the variance under the square root
  // Synchronised batch norm (data-parallel training): the batch statistics, and in the backward pass the
  // sums grad_x needs, are those of every rank's values together (M counts them all), as one process
  // holding the whole batch would compute them. grad_weight and grad_bias stay this rank's share. Null
  // or one rank: this process's values alone. On CUDA tensors the communicator sums a float64 device
  // vector (NCCL on the device, MPI through the host).
  Communicator* sync = nullptr;
  // The forward kernels' epilogue, set by batch_norm2d_relu: y = relu(y + *residual) (residual null: no
  // sum), each step rounded as add and relu round it.
  bool relu = false;
  const Tensor* residual = nullptr;
};

// x: [N, C, H, W]. weight, bias: [C] each, or both undefined (no affine transform).
// running_mean, running_var: [C], same dtype and device as x.
// Training: y = (x - mean) / sqrt(var + eps) * weight + bias with the batch mean and the biased batch
// variance over M = N * H * W values per channel (M > 1 required); then, in place,
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)   (unbiased).
// Eval: the same with running_mean and running_var, which are not changed.
// Returns y of x's shape. Gradients flow to x, weight and bias, never to the running statistics.
Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                    Tensor& running_var, const BatchNormParams& p);

// relu(batch_norm2d(x, ...) + residual) in one op (residual undefined: relu(batch_norm2d(x, ...))), the
// batch norm of a convolution-BN-ReLU and of a residual block's end: the sum and the ReLU happen in the
// normalising pass, and the backward masks the gradient once for the batch norm and the residual. The same
// bits as the three ops. residual: x's shape, dtype and device. p.relu and p.residual are set here.
Tensor batch_norm2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                         Tensor& running_var, const BatchNormParams& p, const Tensor& residual = Tensor());

// Kernel entry points. weight and bias are both undefined or both [C]. save_mean and save_invstd are
// [C] in x's dtype: the mean and 1 / sqrt(var + eps) the forward normalised with, kept for the backward
// (computed in double; the forward itself normalises with the double values). stats, when not null, gets
// those double values, float64 [2 * C] on x's device: the means, then the inverse deviations, from which
// batch_norm_normalise computes y again, the same bits (engine/saved_activation.h's recomputation).
namespace cpu {
// Batch statistics; updates running_mean and running_var in place.
void batch_norm_fwd_train(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                          Tensor& running_var, const BatchNormParams& p, Tensor& y, Tensor& save_mean,
                          Tensor& save_invstd, Tensor* stats = nullptr);
// Running statistics (read only); save_mean = running_mean, save_invstd = 1 / sqrt(running_var + eps).
void batch_norm_fwd_eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, const BatchNormParams& p, Tensor& y, Tensor& save_mean,
                         Tensor& save_invstd, Tensor* stats = nullptr);
// With xhat = (x - save_mean) * save_invstd, w = weight (1 when undefined), M = N * H * W:
//   grad_bias = sum(grad_y), grad_weight = sum(grad_y * xhat) over N, H, W;
//   training: grad_x = w * save_invstd * (grad_y - grad_bias / M - xhat * grad_weight / M);
//   eval:     grad_x = grad_y * w * save_invstd.
// A null pointer skips that gradient. `sync`: BatchNormParams::sync of the forward pass. x may be the
// bfloat16 copy of a float32 input that backward keeps under the bf16 policy (engine/saved_activation.h),
// read as it is; the gradients have grad_y's dtype.
void batch_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd,
                    bool training, Communicator* sync, const Tensor& grad_y, Tensor* grad_x, Tensor* grad_weight,
                    Tensor* grad_bias);
// y = x normalised with the forward's stats (float64 [2 * C]), then relu when asked: the forward's pass
// without a residual, the same bits as the forward's y. x float32 (or float64 on the CPU).
void batch_norm_normalise(const Tensor& x, const Tensor& stats, const Tensor& weight, const Tensor& bias, bool relu,
                          Tensor& y);
}  // namespace cpu
namespace cuda {
void batch_norm_fwd_train(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                          Tensor& running_var, const BatchNormParams& p, Tensor& y, Tensor& save_mean,
                          Tensor& save_invstd, Tensor* stats = nullptr);
void batch_norm_fwd_eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, const BatchNormParams& p, Tensor& y, Tensor& save_mean,
                         Tensor& save_invstd, Tensor* stats = nullptr);
void batch_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd,
                    bool training, Communicator* sync, const Tensor& grad_y, Tensor* grad_x, Tensor* grad_weight,
                    Tensor* grad_bias);
void batch_norm_normalise(const Tensor& x, const Tensor& stats, const Tensor& weight, const Tensor& bias, bool relu,
                          Tensor& y);
}  // namespace cuda

}  // namespace pleura
