// CUDA kernels of upsample2x (engine/ops/upsample.h); twin: cpu/upsample.cpp.
// Forward: one thread per output element. Backward: one thread per input element gathering from the
// output positions that read it (rows 2i-1..2i+2, columns 2j-1..2j+2 for bilinear; the 2x2 block for
// nearest), in the CPU's order: deterministic, no atomics.
#include "cuda/launch.h"
#include "engine/ops/upsample.h"

namespace pleura::cuda {

namespace {

struct Tap {
  int64_t i0, i1;
  float l0, l1;
};

// PyTorch's align_corners=False source of output index dst for scale 2, along a dim of size in.
// src is a multiple of 0.25, so every quantity here is exact in float, as on the CPU.
__device__ __forceinline__ Tap tap_of(int64_t dst, int64_t in) {
  float src = (static_cast<float>(dst) + 0.5f) * 0.5f - 0.5f;
  src = src < 0.f ? 0.f : src;
  Tap t;
  t.i0 = static_cast<int64_t>(src);
  t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
  t.l1 = src - static_cast<float>(t.i0);
  t.l0 = 1.f - t.l1;
  return t;
}

// Weight with which output index dst reads input index i (both taps may be i at the borders).
__device__ __forceinline__ float weight_of(int64_t dst, int64_t i, int64_t in) {
  const Tap t = tap_of(dst, in);
  return (t.i0 == i ? t.l0 : 0.f) + (t.i1 == i ? t.l1 : 0.f);
}

__global__ void upsample2x_fwd_kernel(const float* x, float* y, int64_t total, int64_t H, int64_t W,
                                      bool bilinear) {
  const int64_t OH = 2 * H, OW = 2 * W;
  PLEURA_KERNEL_LOOP(i, total) {
    // i = (plane * OH + r) * OW + c: consecutive threads write consecutive columns.
    const int64_t c = i % OW, r = (i / OW) % OH, plane = i / (OH * OW);
    const float* xp = x + plane * H * W;
    if (!bilinear) {
      y[i] = xp[(r / 2) * W + c / 2];
      continue;
    }
    const Tap ty = tap_of(r, H), tx = tap_of(c, W);
    const float* row0 = xp + ty.i0 * W;
    const float* row1 = xp + ty.i1 * W;
    // Same association as the CPU (and PyTorch): two column interpolations, then the row blend; and the
    // same roundings: the _rn intrinsics keep nvcc from contracting a multiply and an add into one FMA,
    // which the CPU build does not do, so both backends give the same bits (a contracted version differed
    // by up to 4e-5 of the output scale where the terms cancel, on an H200).
    const float top = __fadd_rn(__fmul_rn(tx.l0, row0[tx.i0]), __fmul_rn(tx.l1, row0[tx.i1]));
    const float bottom = __fadd_rn(__fmul_rn(tx.l0, row1[tx.i0]), __fmul_rn(tx.l1, row1[tx.i1]));
    y[i] = __fadd_rn(__fmul_rn(ty.l0, top), __fmul_rn(ty.l1, bottom));
  }
}

__global__ void upsample2x_bwd_kernel(const float* grad_y, float* grad_x, int64_t total, int64_t H, int64_t W,
                                      bool bilinear) {
  const int64_t OH = 2 * H, OW = 2 * W;
  PLEURA_KERNEL_LOOP(k, total) {
    const int64_t j = k % W, i = (k / W) % H, plane = k / (H * W);
    const float* gp = grad_y + plane * OH * OW;
    if (!bilinear) {
      // The 2x2 block that copied x[i][j], row-major as on the CPU.
      const float* g = gp + (2 * i) * OW + 2 * j;
      grad_x[k] = ((g[0] + g[1]) + g[OW]) + g[OW + 1];
      continue;
    }
    // Output rows reading input row i: 2i-1 (weight 0.25), 2i (0.75, or 1 at i = 0), 2i+1 (0.75, or 1 at
    // i = H-1), 2i+2 (0.25); clipped to the output. weight_of recomputes them with the forward's rule.
    const int64_t r0 = max(2 * i - 1, int64_t{0}), r1 = min(2 * i + 2, OH - 1);
    const int64_t c0 = max(2 * j - 1, int64_t{0}), c1 = min(2 * j + 2, OW - 1);
    float acc = 0.f;
    for (int64_t r = r0; r <= r1; ++r) {
      const float wy = weight_of(r, i, H);
      for (int64_t c = c0; c <= c1; ++c) acc += (wy * weight_of(c, j, W)) * gp[r * OW + c];
    }
    grad_x[k] = acc;
  }
}

}  // namespace

void upsample2x_fwd(const Tensor& x, UpsampleMode mode, Tensor& y) {
  const int64_t total = y.numel();
  if (total == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  upsample2x_fwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(
      x.data<float>(), y.data<float>(), total, x.size(2), x.size(3), mode == UpsampleMode::kBilinear);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void upsample2x_bwd(const Tensor& grad_y, UpsampleMode mode, Tensor& grad_x) {
  const int64_t total = grad_x.numel();
  if (total == 0) return;
  const int dev = grad_x.device().index;
  DeviceGuard guard(dev);
  upsample2x_bwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(
      grad_y.data<float>(), grad_x.data<float>(), total, grad_x.size(2), grad_x.size(3),
      mode == UpsampleMode::kBilinear);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
