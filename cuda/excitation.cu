// CUDA kernels of excitation (engine/ops/excitation.h); twin: cpu/excitation.cpp. Every element is
// excitation_math's, shared with the CPU. Forward: one block per image, the hidden units then the gates.
// Backward: one block per image for the pre-activation gradients (d2, then d1, in double scratch memory),
// then one thread per element of the five gradients, each a short sum in a fixed order: deterministic, no
// atomics.
#include "cuda/launch.h"
#include "engine/ops/excitation.h"
#include "engine/ops/excitation_math.h"

namespace pleura::cuda {

namespace em = excitation_math;

namespace {

__global__ void excitation_fwd_kernel(const float* p, const float* w1, const float* b1, const float* w2,
                                      const float* b2, float* h, float* g, int64_t C, int64_t R) {
  const int64_t n = blockIdx.x;
  for (int64_t j = threadIdx.x; j < R; j += blockDim.x) h[n * R + j] = em::hidden(p, w1, b1, C, n, j);
  __syncthreads();  // the block's hidden units, written to global memory, are visible to the whole block
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) g[n * C + c] = em::gate(h, w2, b2, R, n, c);
}

__global__ void pre_activation_grads_kernel(const float* w2, const float* h, const float* g, const float* gg,
                                            double* d2, double* d1, int64_t C, int64_t R) {
  const int64_t n = blockIdx.x;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) d2[n * C + c] = em::sigmoid_grad(gg[n * C + c], g[n * C + c]);
  __syncthreads();
  for (int64_t j = threadIdx.x; j < R; j += blockDim.x) d1[n * R + j] = em::d1(d2, w2, h, C, R, n, j);
}

struct GradOutputs {
  float *pooled, *w1, *b1, *w2, *b2;  // null: not wanted
};

// Index ranges, in order: b2 [C], w2 [C, R], b1 [R], w1 [R, C], pooled [N, C].
__global__ void weight_grads_kernel(const double* d2, const double* d1, const float* p, const float* w1,
                                    const float* h, GradOutputs out, int64_t N, int64_t C, int64_t R) {
  const int64_t total = C + C * R + R + R * C + N * C;
  PLEURA_KERNEL_LOOP(i, total) {
    int64_t k = i;
    if (k < C) {
      if (out.b2) out.b2[k] = static_cast<float>(em::sum(d2 + k, C, N));
      continue;
    }
    k -= C;
    if (k < C * R) {
      if (out.w2) out.w2[k] = em::grad_w2(d2, h, N, C, R, k / R, k % R);
      continue;
    }
    k -= C * R;
    if (k < R) {
      if (out.b1) out.b1[k] = static_cast<float>(em::sum(d1 + k, R, N));
      continue;
    }
    k -= R;
    if (k < R * C) {
      if (out.w1) out.w1[k] = em::grad_w1(d1, p, N, C, R, k / C, k % C);
      continue;
    }
    k -= R * C;
    if (out.pooled) out.pooled[k] = em::grad_pooled(d1, w1, C, R, k / C, k % C);
  }
}

float* data_or_null(Tensor* t) { return t ? t->data<float>() : nullptr; }

}  // namespace

void excitation_fwd(const Tensor& pooled, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2,
                    Tensor& hidden, Tensor& gate) {
  const int64_t N = pooled.size(0), C = pooled.size(1), R = w1.size(0);
  const int dev = pooled.device().index;
  DeviceGuard guard(dev);
  excitation_fwd_kernel<<<static_cast<unsigned>(N), kBlockThreads, 0, stream(dev)>>>(
      pooled.data<float>(), w1.data<float>(), b1.data<float>(), w2.data<float>(), b2.data<float>(),
      hidden.data<float>(), gate.data<float>(), C, R);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void excitation_bwd(const Tensor& pooled, const Tensor& w1, const Tensor& w2, const Tensor& hidden,
                    const Tensor& gate, const Tensor& grad_gate, Tensor* grad_pooled, Tensor* grad_w1, Tensor* grad_b1,
                    Tensor* grad_w2, Tensor* grad_b2) {
  const int64_t N = pooled.size(0), C = pooled.size(1), R = w1.size(0);
  const int dev = pooled.device().index;
  DeviceGuard guard(dev);
  Tensor d2 = Tensor::empty(Shape{N, C}, DType::kFloat64, pooled.device());
  Tensor d1 = Tensor::empty(Shape{N, R}, DType::kFloat64, pooled.device());
  pre_activation_grads_kernel<<<static_cast<unsigned>(N), kBlockThreads, 0, stream(dev)>>>(
      w2.data<float>(), hidden.data<float>(), gate.data<float>(), grad_gate.data<float>(), d2.data<double>(),
      d1.data<double>(), C, R);
  PLEURA_CUDA_LAUNCH_CHECK();
  const GradOutputs out{data_or_null(grad_pooled), data_or_null(grad_w1), data_or_null(grad_b1),
                        data_or_null(grad_w2), data_or_null(grad_b2)};
  const int64_t total = C + C * R + R + R * C + N * C;
  weight_grads_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(
      d2.data<double>(), d1.data<double>(), pooled.data<float>(), w1.data<float>(), hidden.data<float>(), out, N, C, R);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
