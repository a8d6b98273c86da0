// CUDA kernels of gated_residual_relu (engine/ops/gated_residual_relu.h); twin: cpu/gated_residual_relu.cpp,
// tests: tests/ops/test_gated_residual_relu.cpp.
// Forward: one grid-stride pass, the product and the sum rounded apart (__fmul_rn, __fadd_rn: no contraction
// into a fused multiply-add, so the bits are those of mul, add and relu). Backward: one block per (n, c)
// plane writes the residual's and x's gradients and sums the gate's, as mul's channel-gradient kernel does
// (float partials, block_sum), in one pass over y, grad_y and x instead of relu_bwd's and mul_bwd's three.
#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "engine/ops/gated_residual_relu.h"
#include "engine/ops/stored_value.h"

namespace pleura::cuda {

namespace {

template <class Index>
__global__ void gated_residual_relu_fwd_kernel(const float* x, const float* gate, const float* residual, float* y,
                                               Index total, Index hw) {
  PLEURA_KERNEL_LOOP_AS(Index, i, total) {
    const float s = __fadd_rn(__fmul_rn(x[i], gate[i / hw]), residual[i]);
    y[i] = s < 0.f ? 0.f : s;  // NaN passes, as relu lets it
  }
}

// Block p: plane p of every tensor. A null output is skipped. X, Y: float, or the bits of the bfloat16
// copies backward keeps under the bf16 policy (engine/saved_activation.h).
template <class X, class Y>
__global__ void gated_residual_relu_bwd_kernel(const X* x, const float* gate, const Y* y,
                                               const float* grad_y, float* grad_sum, float* grad_x,
                                               float* grad_gate, int64_t hw) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * hw;
  const float g = gate[blockIdx.x];
  float partial = 0.f;
  for (int64_t i = base + threadIdx.x; i < base + hw; i += blockDim.x) {
    const float gs = stored_value(y[i]) > 0.f ? grad_y[i] : 0.f;
    if (grad_sum) grad_sum[i] = gs;
    if (grad_x) grad_x[i] = gs * g;
    if (grad_gate) partial += gs * stored_value(x[i]);
  }
  if (grad_gate == nullptr) return;  // uniform across the block: block_sum is reached by all or none
  partial = block_sum(partial);
  if (threadIdx.x == 0) grad_gate[blockIdx.x] = partial;
}

}  // namespace

void gated_residual_relu_fwd(const Tensor& x, const Tensor& gate, const Tensor& residual, Tensor& y) {
  const int64_t total = x.numel(), hw = x.size(2) * x.size(3);
  if (total == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const unsigned grid = grid_for(total);
  if (narrow_indices_fit(total)) {
    gated_residual_relu_fwd_kernel<int32_t><<<grid, kBlockThreads, 0, stream(dev)>>>(
        x.data<float>(), gate.data<float>(), residual.data<float>(), y.data<float>(), static_cast<int32_t>(total),
        static_cast<int32_t>(hw));
  } else {
    gated_residual_relu_fwd_kernel<int64_t><<<grid, kBlockThreads, 0, stream(dev)>>>(
        x.data<float>(), gate.data<float>(), residual.data<float>(), y.data<float>(), total, hw);
  }
  PLEURA_CUDA_LAUNCH_CHECK();
}

void gated_residual_relu_bwd(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& grad_y,
                             Tensor* grad_sum, Tensor* grad_x, Tensor* grad_gate) {
  const int64_t planes = x.size(0) * x.size(1), hw = x.size(2) * x.size(3);
  if (planes == 0) return;  // with hw = 0 the blocks still run, and write the gate's gradients as 0
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  auto out = [](Tensor* t) { return t ? t->data<float>() : nullptr; };
  with_stored_data<float>(x, [&](const auto* px) {
    with_stored_data<float>(y, [&](const auto* py) {
      gated_residual_relu_bwd_kernel<<<static_cast<unsigned>(planes), kBlockThreads, 0, stream(dev)>>>(
          px, gate.data<float>(), py, grad_y.data<float>(), out(grad_sum), out(grad_x), out(grad_gate), hw);
    });
  });
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
