// CUDA kernels of upsample2x (engine/ops/upsample.h); twin: cpu/upsample.cpp.
// Forward: one thread per output element. Backward: one thread per input element gathering from the
// output positions that read it (rows 2i-1..2i+2, columns 2j-1..2j+2 for bilinear; the 2x2 block for
// nearest), in the CPU's order: deterministic, no atomics. Index arithmetic in 32 bits where the tensors
// allow it (Index; a 64-bit division costs dozens of instructions per element: bilinear ran at 0.11-0.16 of
// the copy bandwidth in the last GPU run with 64-bit indices), and the backward's column weights computed
// once per element rather than once per row. The larger tensor's planes for the smaller one's may be a
// channel range of it (upsample2x_of_concat: PlaneMap), so concat + upsample is one pass per input.
#include "cuda/launch.h"
#include "engine/ops/upsample.h"

namespace pleura::cuda {

namespace {

template <class Index>
struct Tap {
  Index i0, i1;
  float l0, l1;
};

// PyTorch's align_corners=False source of output index dst for scale 2, along a dim of size in.
// src is a multiple of 0.25, so every quantity here is exact in float, as on the CPU.
template <class Index>
__device__ __forceinline__ Tap<Index> tap_of(Index dst, Index in) {
  float src = (static_cast<float>(dst) + 0.5f) * 0.5f - 0.5f;
  src = src < 0.f ? 0.f : src;
  Tap<Index> t;
  t.i0 = static_cast<Index>(src);
  t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
  t.l1 = src - static_cast<float>(t.i0);
  t.l0 = 1.f - t.l1;
  return t;
}

// Weight with which output index dst reads input index i (both taps may be i at the borders).
template <class Index>
__device__ __forceinline__ float weight_of(Index dst, Index i, Index in) {
  const Tap<Index> t = tap_of(dst, in);
  return (t.i0 == i ? t.l0 : 0.f) + (t.i1 == i ? t.l1 : 0.f);
}

// Plane p = n * C + c of the smaller tensor is plane n * big_C + offset + c of the larger one.
template <class Index>
struct PlaneMap {
  Index C, big_C, offset;
  __device__ __forceinline__ Index big_plane(Index p) const {
    const Index n = p / C;
    return n * big_C + offset + (p - n * C);
  }
};

template <class Index>
__global__ void upsample2x_fwd_kernel(const float* x, float* y, Index total, Index H, Index W, bool bilinear,
                                      PlaneMap<Index> map) {
  const Index OH = 2 * H, OW = 2 * W;
  PLEURA_KERNEL_LOOP_AS(Index, i, total) {
    // i = (plane * OH + r) * OW + c over x's planes: consecutive threads write consecutive columns.
    const Index row = i / OW, c = i - row * OW;
    const Index plane = row / OH, r = row - plane * OH;
    const float* xp = x + static_cast<int64_t>(plane) * H * W;
    float* out = y + static_cast<int64_t>(map.big_plane(plane)) * OH * OW + r * OW + c;
    if (!bilinear) {
      *out = xp[(r / 2) * W + c / 2];
      continue;
    }
    const Tap<Index> ty = tap_of(r, H), tx = tap_of(c, W);
    const float* row0 = xp + ty.i0 * W;
    const float* row1 = xp + ty.i1 * W;
    // Same association as the CPU (and PyTorch): two column interpolations, then the row blend; and the
    // same roundings: the _rn intrinsics keep nvcc from contracting a multiply and an add into one FMA,
    // which the CPU build does not do, so both backends give the same bits (a contracted version differed
    // by up to 4e-5 of the output scale where the terms cancel, on an H200).
    const float top = __fadd_rn(__fmul_rn(tx.l0, row0[tx.i0]), __fmul_rn(tx.l1, row0[tx.i1]));
    const float bottom = __fadd_rn(__fmul_rn(tx.l0, row1[tx.i0]), __fmul_rn(tx.l1, row1[tx.i1]));
    *out = __fadd_rn(__fmul_rn(ty.l0, top), __fmul_rn(ty.l1, bottom));
  }
}

template <class Index>
__global__ void upsample2x_bwd_kernel(const float* grad_y, float* grad_x, Index total, Index H, Index W,
                                      bool bilinear, PlaneMap<Index> map) {
  const Index OH = 2 * H, OW = 2 * W;
  PLEURA_KERNEL_LOOP_AS(Index, k, total) {
    const Index row = k / W, j = k - row * W;
    const Index plane = row / H, i = row - plane * H;
    const float* gp = grad_y + static_cast<int64_t>(map.big_plane(plane)) * OH * OW;
    if (!bilinear) {
      // The 2x2 block that copied x[i][j], row-major as on the CPU.
      const float* g = gp + (2 * i) * OW + 2 * j;
      grad_x[k] = ((g[0] + g[1]) + g[OW]) + g[OW + 1];
      continue;
    }
    // Output rows reading input row i: 2i-1 (weight 0.25), 2i (0.75, or 1 at i = 0), 2i+1 (0.75, or 1 at
    // i = H-1), 2i+2 (0.25); clipped to the output. weight_of recomputes them with the forward's rule.
    const Index r0 = max(2 * i - 1, Index{0}), r1 = min(2 * i + 2, OH - 1);
    const Index c0 = max(2 * j - 1, Index{0}), c1 = min(2 * j + 2, OW - 1);
    float wx[4];
    for (Index c = c0; c <= c1; ++c) wx[c - c0] = weight_of(c, j, W);
    float acc = 0.f;
    for (Index r = r0; r <= r1; ++r) {
      const float wy = weight_of(r, i, H);
      for (Index c = c0; c <= c1; ++c) acc += (wy * wx[c - c0]) * gp[r * OW + c];
    }
    grad_x[k] = acc;
  }
}

}  // namespace

void upsample2x_fwd(const Tensor& x, UpsampleMode mode, Tensor& y, int64_t y_channel_offset) {
  const int64_t total = 4 * x.numel();  // the outputs of x's planes
  if (total == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const unsigned blocks = grid_for(total);
  const bool bilinear = mode == UpsampleMode::kBilinear;
  if (narrow_indices_fit(y.numel())) {  // y holds the largest index
    const PlaneMap<int32_t> map{static_cast<int32_t>(x.size(1)), static_cast<int32_t>(y.size(1)),
                                static_cast<int32_t>(y_channel_offset)};
    upsample2x_fwd_kernel<int32_t><<<blocks, kBlockThreads, 0, stream(dev)>>>(
        x.data<float>(), y.data<float>(), static_cast<int32_t>(total), static_cast<int32_t>(x.size(2)),
        static_cast<int32_t>(x.size(3)), bilinear, map);
  } else {
    const PlaneMap<int64_t> map{x.size(1), y.size(1), y_channel_offset};
    upsample2x_fwd_kernel<int64_t><<<blocks, kBlockThreads, 0, stream(dev)>>>(x.data<float>(), y.data<float>(), total,
                                                                              x.size(2), x.size(3), bilinear, map);
  }
  PLEURA_CUDA_LAUNCH_CHECK();
}

void upsample2x_bwd(const Tensor& grad_y, UpsampleMode mode, Tensor& grad_x, int64_t y_channel_offset) {
  const int64_t total = grad_x.numel();
  if (total == 0) return;
  const int dev = grad_x.device().index;
  DeviceGuard guard(dev);
  const unsigned blocks = grid_for(total);
  const bool bilinear = mode == UpsampleMode::kBilinear;
  if (narrow_indices_fit(grad_y.numel())) {  // grad_y, at least four times grad_x, holds the largest index
    const PlaneMap<int32_t> map{static_cast<int32_t>(grad_x.size(1)), static_cast<int32_t>(grad_y.size(1)),
                                static_cast<int32_t>(y_channel_offset)};
    upsample2x_bwd_kernel<int32_t><<<blocks, kBlockThreads, 0, stream(dev)>>>(
        grad_y.data<float>(), grad_x.data<float>(), static_cast<int32_t>(total), static_cast<int32_t>(grad_x.size(2)),
        static_cast<int32_t>(grad_x.size(3)), bilinear, map);
  } else {
    const PlaneMap<int64_t> map{grad_x.size(1), grad_y.size(1), y_channel_offset};
    upsample2x_bwd_kernel<int64_t><<<blocks, kBlockThreads, 0, stream(dev)>>>(
        grad_y.data<float>(), grad_x.data<float>(), total, grad_x.size(2), grad_x.size(3), bilinear, map);
  }
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
