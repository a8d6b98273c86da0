// CUDA kernels of scse_maxout (engine/ops/scse.h); twin: cpu/scse.cpp, tests: tests/ops/test_scse.cpp.
//
// Layout: a block is 8 warps over one row of 32 consecutive pixels of one sample. Lane l handles pixel
// p0 + l; warp k handles the channels c = k, k + 8, ... (the kScseSlices order of the CPU). Every load of
// x / grad_out is one 128-byte row segment per warp (coalesced), and each per-pixel channel sum is 8 serial
// slice sums in double plus an in-order combine through shared memory: the CPU's order exactly, so with
// float products (exact in double) the logit and the gate's gradient are bit-identical to the CPU's.
//
// The C loop runs twice (logit, then outputs), reading x twice, rather than caching the block's 32 x C tile
// in shared memory: the tile is 128 C bytes (48 KB at C = 384), which would cut the resident blocks per SM
// (and the loads in flight) for no saving where the second read hits cache. At SCSE-UNet's shapes it does:
// the 8 resident blocks of an SM re-read 8 x 128 C bytes, 64 KB at C = 64 and 128 KB at C = 128 (the widths
// at 1/2 and 1/4 resolution), which L1 holds; at C = 256 and 384 (1/8 and 1/16) the whole activation is at
// most 32 MB at batch 2 even at 1024^2 input and sits in the 50 MB L2 after the conv that wrote it.
// bench_cuda_ops reports the achieved rate against the minimum traffic, which shows what the re-read costs.
#include <algorithm>

#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "engine/ops/scse.h"

namespace pleura::cuda {

namespace {

constexpr int kLanes = 32;                         // pixels per row (one per lane)
constexpr int kThreads = kLanes * kScseSlices;     // 256: warp k sums channel slice k
constexpr int kSumThreads = 256;                   // threads of the partial-sum kernel

// Same branches as cpu/scse.cpp in double (exp, not a fast intrinsic, so it agrees with the CPU's
// std::exp to the last bit almost always; after the rounding to float, essentially always).
__device__ inline double sigmoid_d(double s) {
  if (s >= 0.0) return 1.0 / (1.0 + exp(-s));
  double e = exp(s);
  return e / (1.0 + e);
}

// torch.maximum's gradient (as cuda/maximum.cu): halves on ties, zero for the strictly smaller branch.
__device__ inline void split_grad(float a, float b, float g, float& ga, float& gb) {
  float h = a == b ? g * 0.5f : g;
  ga = a < b ? 0.f : h;
  gb = a > b ? 0.f : h;
}

// One block per (sample n, row of 32 pixels): blockIdx.x = n * rows + row.
__global__ void __launch_bounds__(kThreads)
    scse_maxout_fwd_kernel(const float* x, const float* cg, const float* w, float* out, float* spatial_gate,
                           int64_t C, int64_t HW, int64_t rows) {
  __shared__ double slice_sum[kScseSlices][kLanes];
  __shared__ float gate[kLanes];
  const int lane = threadIdx.x % kLanes, k = threadIdx.x / kLanes;
  const int64_t n = blockIdx.x / rows, p = (blockIdx.x % rows) * kLanes + lane;
  const bool valid = p < HW;
  const float* xp = x + n * C * HW + p;
  // Logit, slice k. The product of two floats is exact in double, so the DFMA the compiler forms rounds
  // exactly as the CPU's separate multiply and add.
  double acc = 0.0;
  if (valid) {
    for (int64_t c = k; c < C; c += kScseSlices) acc += static_cast<double>(w[c]) * static_cast<double>(xp[c * HW]);
  }
  slice_sum[k][lane] = acc;
  __syncthreads();
  if (k == 0) {
    double s = 0.0;
    for (int j = 0; j < kScseSlices; ++j) s += slice_sum[j][lane];
    float g = static_cast<float>(sigmoid_d(s));
    gate[lane] = g;
    if (valid) spatial_gate[n * HW + p] = g;
  }
  __syncthreads();
  if (!valid) return;
  // Outputs: the second read of the block's tile, from L1/L2 (see the file comment).
  const float g = gate[lane];
  const float* cgn = cg + n * C;
  float* op = out + n * C * HW + p;
  for (int64_t c = k; c < C; c += kScseSlices) {
    float xv = xp[c * HW];
    float a = xv * cgn[c], b = xv * g;
    op[c * HW] = (a > b || a != a) ? a : b;  // NaN propagates as torch.maximum (not fmaxf)
  }
}

// One block per (sample n, group of `subtiles` rows of 32 pixels): blockIdx.x = n * groups + group. For
// each row: pass 1 (the logit's gradient, if needed) and pass 2 (grad_x and the per-channel pixel sums).
// The pixel sums of channel c are added, row after row, by lane 0 of the warp that owns c into
// part_cg / part_w [n][group][c] (double, in global memory: one owner, program order, no atomics).
// Pass 2 re-reads the row's x and grad_out (2 x 128 C bytes) right after pass 1, from L1/L2 as in the forward.
__global__ void __launch_bounds__(kThreads)
    scse_maxout_bwd_kernel(const float* x, const float* cg, const float* w, const float* spatial_gate,
                           const float* grad_out, float* grad_x, double* part_cg, double* part_w, int64_t C,
                           int64_t HW, int64_t groups, int subtiles, bool need_s) {
  __shared__ double slice_sum[kScseSlices][kLanes];
  __shared__ float grad_s[kLanes];
  const int lane = threadIdx.x % kLanes, k = threadIdx.x / kLanes;
  const int64_t n = blockIdx.x / groups, group = blockIdx.x % groups;
  const float* cgn = cg + n * C;
  const int64_t slot = (n * groups + group) * C;
  for (int t = 0; t < subtiles; ++t) {
    const int64_t p = (group * subtiles + t) * kLanes + lane;
    const bool valid = p < HW;
    const int64_t base = n * C * HW + p;
    const float y = valid ? spatial_gate[n * HW + p] : 0.f;
    if (need_s) {
      double acc = 0.0;
      if (valid) {
        for (int64_t c = k; c < C; c += kScseSlices) {
          float xv = x[base + c * HW], ga, gb;
          split_grad(xv * cgn[c], xv * y, grad_out[base + c * HW], ga, gb);
          acc += static_cast<double>(gb) * static_cast<double>(xv);
        }
      }
      slice_sum[k][lane] = acc;
      __syncthreads();
      if (k == 0) {
        double s = 0.0;
        for (int j = 0; j < kScseSlices; ++j) s += slice_sum[j][lane];
        double yd = static_cast<double>(y);
        grad_s[lane] = static_cast<float>(s * yd * (1.0 - yd));  // through the sigmoid, as the CPU
      }
      __syncthreads();
    }
    const float gs = need_s ? grad_s[lane] : 0.f;
    for (int64_t c = k; c < C; c += kScseSlices) {
      double term_cg = 0.0, term_w = 0.0;
      if (valid) {
        float xv = x[base + c * HW], ga, gb;
        float cgv = cgn[c];
        split_grad(xv * cgv, xv * y, grad_out[base + c * HW], ga, gb);
        // Left to right with explicit roundings: no FMA contraction, so the bits match the CPU's.
        if (grad_x) {
          grad_x[base + c * HW] = __fadd_rn(__fadd_rn(__fmul_rn(ga, cgv), __fmul_rn(gb, y)), __fmul_rn(gs, w[c]));
        }
        term_cg = static_cast<double>(ga) * static_cast<double>(xv);
        term_w = static_cast<double>(gs) * static_cast<double>(xv);
      }
      // Every lane of the warp reaches the shuffles (c depends on the warp only).
      if (part_cg) {
        term_cg = warp_sum(term_cg);
        if (lane == 0) part_cg[slot + c] = (t == 0 ? 0.0 : part_cg[slot + c]) + term_cg;
      }
      if (part_w) {
        term_w = warp_sum(term_w);
        if (lane == 0) part_w[slot + c] = (t == 0 ? 0.0 : part_w[slot + c]) + term_w;
      }
    }
    // No barrier needed before the next row: its slice_sum writes follow this row's second barrier (after
    // warp 0's last read), and its grad_s write follows its own first barrier (after every warp read gs).
  }
}

// out[o] = sum over r < rows of part[(o / C * rows + r) * C + o % C], one block per output: a fixed
// partition of r over the threads and block_sum's fixed tree, so every run gives the same bits.
__global__ void scse_partials_sum_kernel(const double* part, int64_t rows, int64_t C, float* out) {
  const int64_t o = blockIdx.x;
  const double* col = part + (o / C) * rows * C + o % C;
  double s = 0.0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) s += col[r * C];
  s = block_sum(s);
  if (threadIdx.x == 0) out[o] = static_cast<float>(s);
}

unsigned grid_blocks(int64_t blocks) {
  PLEURA_CHECK(blocks <= 0x7fffffff, "[scse_maxout] ", blocks, " blocks exceed the CUDA grid limit 2^31 - 1");
  return static_cast<unsigned>(blocks);
}

}  // namespace

void scse_maxout_fwd(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight, Tensor& out,
                     Tensor& spatial_gate) {
  int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  int64_t rows = (HW + kLanes - 1) / kLanes;
  int dev = x.device().index;
  DeviceGuard guard(dev);
  scse_maxout_fwd_kernel<<<grid_blocks(N * rows), kThreads, 0, stream(dev)>>>(
      x.data<float>(), channel_gate.data<float>(), spatial_weight.data<float>(), out.data<float>(),
      spatial_gate.data<float>(), C, HW, rows);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void scse_maxout_bwd(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight,
                     const Tensor& spatial_gate, const Tensor& grad_out, Tensor* grad_x, Tensor* grad_channel_gate,
                     Tensor* grad_spatial_weight) {
  if (!grad_x && !grad_channel_gate && !grad_spatial_weight) return;
  int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  int64_t rows = (HW + kLanes - 1) / kLanes;
  // Rows per block: enough blocks to fill the GPU (about 1000 at 512+ rows per sample), few enough partials
  // (16 C bytes per block against 256 C bytes of x and grad_out per row). A function of the shape only, as
  // the partials' order must be.
  int subtiles = static_cast<int>(std::min<int64_t>(8, std::max<int64_t>(1, rows / 512)));
  int64_t groups = (rows + subtiles - 1) / subtiles;
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = stream(dev);
  Tensor part_cg, part_w;
  if (grad_channel_gate) part_cg = Tensor::empty(Shape{N * groups * C}, DType::kFloat64, x.device());
  if (grad_spatial_weight) part_w = Tensor::empty(Shape{N * groups * C}, DType::kFloat64, x.device());
  bool need_s = grad_x || grad_spatial_weight;
  scse_maxout_bwd_kernel<<<grid_blocks(N * groups), kThreads, 0, s>>>(
      x.data<float>(), channel_gate.data<float>(), spatial_weight.data<float>(), spatial_gate.data<float>(),
      grad_out.data<float>(), grad_x ? grad_x->data<float>() : nullptr,
      grad_channel_gate ? part_cg.data<double>() : nullptr, grad_spatial_weight ? part_w.data<double>() : nullptr,
      C, HW, groups, subtiles, need_s);
  PLEURA_CUDA_LAUNCH_CHECK();
  // grad_channel_gate[n, c]: the groups of sample n; grad_spatial_weight[c]: all N * groups rows.
  if (grad_channel_gate) {
    scse_partials_sum_kernel<<<grid_blocks(N * C), kSumThreads, 0, s>>>(part_cg.data<double>(), groups, C,
                                                                       grad_channel_gate->data<float>());
    PLEURA_CUDA_LAUNCH_CHECK();
  }
  if (grad_spatial_weight) {
    scse_partials_sum_kernel<<<grid_blocks(C), kSumThreads, 0, s>>>(part_w.data<double>(), N * groups, C,
                                                                   grad_spatial_weight->data<float>());
    PLEURA_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace pleura::cuda
