// CUDA kernels of batch_norm2d (engine/ops/batch_norm.h); twin: cpu/batch_norm.cpp.
// Per-channel sums are two-level and deterministic: a grid of (C, parts) blocks, each reducing a fixed
// slice of its channel's M = N * H * W values with block_sum, then one thread per channel adding the
// parts in order. parts depends on M alone, and there are no atomics, so every run gives the same bits.
// Sums and per-element arithmetic are in double: the statistics come from one pass as E[x^2] - mean^2,
// whose cancellation costs digits that double's 29 extra bits absorb for float data, and each output is
// rounded once from double, as on the CPU, so the two backends agree to about one float ulp even where
// a result is a small difference of large terms (y near 0, grad_x). These kernels are memory bound on
// H100-class GPUs, where double arithmetic is cheap enough.
// Synchronised batch norm (BatchNormParams::sync over more than one rank): the per-channel sums and the
// value count go into one float64 vector [sum..., sum of squares..., M] (backward: [sum of grad_y...,
// sum of grad_y * xhat..., M]) that the communicator sums over the ranks on the device (NCCL on its
// stream, ordered with this one; MPI through the host), and the statistics are taken from it.
#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/stored_value.h"

namespace pleura::cuda {

namespace {

constexpr int kStatsThreads = 256;
constexpr int64_t kPartTarget = 8192;  // values of one channel per partial block: 32 per thread
constexpr int64_t kMaxParts = 64;      // caps the serial loop of the per-channel finishing kernels

struct Dims {
  int64_t n, c, hw;
  int64_t m() const { return n * hw; }  // values per channel
};
Dims dims_of(const Tensor& x) { return {x.size(0), x.size(1), x.size(2) * x.size(3)}; }

// How a channel's M values are cut into parts: parts blocks of part_len values (the last may be short
// or empty; an empty part contributes 0).
struct Split {
  int parts;
  int64_t part_len;
};
Split split_channel(int64_t m) {
  int64_t parts = (m + kPartTarget - 1) / kPartTarget;
  parts = parts < 1 ? 1 : (parts > kMaxParts ? kMaxParts : parts);
  return {static_cast<int>(parts), (m + parts - 1) / parts};
}

// Flat offset of value j (0 <= j < M) of channel c in NCHW: n = j / HW, spatial offset j % HW.
// Consecutive j are consecutive addresses within one plane, so warps read coalesced.
__device__ inline int64_t channel_offset(int64_t j, int64_t c, int64_t C, int64_t hw) {
  int64_t n = j / hw;
  return (n * C + c) * hw + (j - n * hw);
}

// Block (c, p): sum and sum of squares of part p of channel c, into part_sum/part_sq[c * parts + p].
__global__ void batch_norm_fwd_partial_kernel(const float* x, int64_t C, int64_t hw, int64_t m, int64_t part_len,
                                              double* part_sum, double* part_sq) {
  int64_t c = blockIdx.x;
  int p = blockIdx.y, parts = gridDim.y;
  int64_t begin = p * part_len;
  int64_t end = begin + part_len < m ? begin + part_len : m;
  double s = 0.0, q = 0.0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    double v = x[channel_offset(j, c, C, hw)];
    s += v;
    q += v * v;  // exact in double for a float v
  }
  s = block_sum(s);
  q = block_sum(q);
  if (threadIdx.x == 0) {
    part_sum[c * parts + p] = s;
    part_sq[c * parts + p] = q;
  }
}

// One thread per channel: batch statistics, saved values, running-stat update, and the double
// statistics stats[c] = mean, stats[C + c] = invstd for the normalising kernel.
// m_summed: when not null, the value count comes from the device (the count summed over the ranks).
__global__ void batch_norm_fwd_stats_kernel(const double* part_sum, const double* part_sq, int parts, int64_t C,
                                            double m_local, const double* m_summed, double eps, double momentum,
                                            float* running_mean, float* running_var, float* save_mean,
                                            float* save_invstd, double* stats) {
  const double m = m_summed ? *m_summed : m_local;
  PLEURA_KERNEL_LOOP(c, C) {
    double s = 0.0, q = 0.0;
    for (int p = 0; p < parts; ++p) {
      s += part_sum[c * parts + p];
      q += part_sq[c * parts + p];
    }
    double mean = s / m;
    // Rounding can leave a constant channel's variance a hair below 0; `var < 0` is false for NaN,
    // so a NaN input still shows as NaN.
    double var = q / m - mean * mean;
    if (var < 0.0) var = 0.0;
    double invstd = 1.0 / sqrt(var + eps);
    stats[c] = mean;
    stats[C + c] = invstd;
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = static_cast<float>(invstd);
    // Running variance: the unbiased estimate var * M / (M - 1); training guarantees M > 1.
    running_mean[c] = static_cast<float>((1.0 - momentum) * static_cast<double>(running_mean[c]) + momentum * mean);
    running_var[c] =
        static_cast<float>((1.0 - momentum) * static_cast<double>(running_var[c]) + momentum * (var * (m / (m - 1.0))));
  }
}

// Synchronised batch norm: one thread per channel adds its parts, in order, into this rank's share of the
// vector the ranks sum: sums[c] = sum of a, sums[C + c] = sum of b, sums[2C] = M.
__global__ void batch_norm_rank_sums_kernel(const double* part_a, const double* part_b, int parts, int64_t C,
                                            double m, double* sums) {
  PLEURA_KERNEL_LOOP(c, C) {
    double a = 0.0, b = 0.0;
    for (int p = 0; p < parts; ++p) {
      a += part_a[c * parts + p];
      b += part_b[c * parts + p];
    }
    sums[c] = a;
    sums[C + c] = b;
    if (c == 0) sums[2 * C] = m;
  }
}

// Synchronised backward: the summed vector [sum_g..., sum_gxh..., M] becomes the means grad_x needs,
// means[c] = sum_g / M and means[C + c] = sum_gxh / M, in place.
__global__ void batch_norm_bwd_means_kernel(double* sums, int64_t C) {
  const double m = sums[2 * C];
  PLEURA_KERNEL_LOOP(c, C) {
    sums[c] /= m;
    sums[C + c] /= m;
  }
}

// Eval: the statistics are the running ones, read only.
__global__ void batch_norm_fwd_eval_stats_kernel(const float* running_mean, const float* running_var, int64_t C,
                                                 double eps, float* save_mean, float* save_invstd, double* stats) {
  PLEURA_KERNEL_LOOP(c, C) {
    double invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
    stats[c] = static_cast<double>(running_mean[c]);
    stats[C + c] = invstd;
    save_mean[c] = running_mean[c];
    save_invstd[c] = static_cast<float>(invstd);
  }
}

// y = ((x - mean) * invstd) * w + b, the CPU's operation order; w == nullptr: no affine transform. Then the
// epilogue (BatchNormParams::residual, relu) in float, as cuda/add.cu and cuda/relu.cu compute it.
__global__ void batch_norm_fwd_kernel(const float* x, const double* stats, const float* w, const float* b, float* y,
                                      int64_t total, int64_t C, int64_t hw, const float* residual, bool relu) {
  PLEURA_KERNEL_LOOP(i, total) {
    int64_t c = (i / hw) % C;
    double xh = (static_cast<double>(x[i]) - stats[c]) * stats[C + c];
    float v = static_cast<float>(w ? xh * static_cast<double>(w[c]) + static_cast<double>(b[c]) : xh);
    if (residual != nullptr) v = v + residual[i];
    y[i] = relu && v < 0.f ? 0.f : v;
  }
}

// Block (c, p): sum of grad_y and of grad_y * xhat over part p of channel c. X: float, or the bits of the
// bfloat16 copy backward keeps of x under the bf16 policy (engine/saved_activation.h).
template <class X>
__global__ void batch_norm_bwd_partial_kernel(const X* x, const float* grad_y, const float* save_mean,
                                              const float* save_invstd, int64_t C, int64_t hw, int64_t m,
                                              int64_t part_len, double* part_g, double* part_gxh) {
  int64_t c = blockIdx.x;
  int p = blockIdx.y, parts = gridDim.y;
  int64_t begin = p * part_len;
  int64_t end = begin + part_len < m ? begin + part_len : m;
  double mean = save_mean[c], invstd = save_invstd[c];
  double s = 0.0, q = 0.0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    int64_t i = channel_offset(j, c, C, hw);
    double g = grad_y[i];
    s += g;
    q += g * ((static_cast<double>(stored_value(x[i])) - mean) * invstd);
  }
  s = block_sum(s);
  q = block_sum(q);
  if (threadIdx.x == 0) {
    part_g[c * parts + p] = s;
    part_gxh[c * parts + p] = q;
  }
}

// One thread per channel: grad_bias, grad_weight (either may be null) and, for grad_x in training,
// means[c] = sum(grad_y) / M, means[C + c] = sum(grad_y * xhat) / M (null when synchronised: the means
// then come from the ranks' sums).
__global__ void batch_norm_bwd_sums_kernel(const double* part_g, const double* part_gxh, int parts, int64_t C, double m,
                                           float* grad_weight, float* grad_bias, double* means) {
  PLEURA_KERNEL_LOOP(c, C) {
    double s = 0.0, q = 0.0;
    for (int p = 0; p < parts; ++p) {
      s += part_g[c * parts + p];
      q += part_gxh[c * parts + p];
    }
    if (grad_bias) grad_bias[c] = static_cast<float>(s);
    if (grad_weight) grad_weight[c] = static_cast<float>(q);
    if (means) {
      means[c] = s / m;
      means[C + c] = q / m;
    }
  }
}

// grad_x = w * invstd * (g - mean_g - xhat * mean_gxh) in training (means != nullptr), w * invstd * g
// in eval; w == nullptr means w = 1. X as in batch_norm_bwd_partial_kernel.
template <class X>
__global__ void batch_norm_bwd_kernel(const X* x, const float* grad_y, const float* w, const float* save_mean,
                                      const float* save_invstd, const double* means, float* grad_x, int64_t total,
                                      int64_t C, int64_t hw) {
  PLEURA_KERNEL_LOOP(i, total) {
    int64_t c = (i / hw) % C;
    double invstd = save_invstd[c];
    double k = (w ? static_cast<double>(w[c]) : 1.0) * invstd;
    double g = grad_y[i];
    if (means) {
      double xh = (static_cast<double>(stored_value(x[i])) - static_cast<double>(save_mean[c])) * invstd;
      g = g - means[c] - xh * means[C + c];
    }
    grad_x[i] = static_cast<float>(k * g);
  }
}

const float* data_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

void launch_normalise(const Tensor& x, const Tensor& stats, const Tensor& weight, const Tensor& bias, Tensor& y, Dims d,
                      const BatchNormParams& p, cudaStream_t s) {
  int64_t total = x.numel();
  if (total == 0) return;
  batch_norm_fwd_kernel<<<grid_for(total), kBlockThreads, 0, s>>>(
      x.data<float>(), stats.data<double>(), data_or_null(weight), data_or_null(bias), y.data<float>(), total, d.c,
      d.hw, p.residual != nullptr ? p.residual->data<float>() : nullptr, p.relu);
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace

void batch_norm_fwd_train(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                          Tensor& running_var, const BatchNormParams& p, Tensor& y, Tensor& save_mean,
                          Tensor& save_invstd, Tensor* stats_out) {
  Dims d = dims_of(x);
  if (d.c == 0) return;  // nothing to compute, and a grid of 0 blocks is an invalid launch
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = stream(dev);
  Split sp = split_channel(d.m());
  // Scratch from the caching allocator; its stream ordering keeps it alive for the queued kernels.
  Tensor parts = Tensor::empty(Shape{2 * d.c * sp.parts}, DType::kFloat64, x.device());
  // The statistics the normalising pass reads: the caller's tensor when it keeps them (engine/ops/batch_norm.h).
  Tensor stats = stats_out != nullptr ? *stats_out : Tensor::empty(Shape{2 * d.c}, DType::kFloat64, x.device());
  double* part_sum = parts.data<double>();
  double* part_sq = part_sum + d.c * sp.parts;
  // C in grid.x (up to 2^31 - 1 blocks), parts <= 64 in grid.y (limit 65535).
  dim3 grid(static_cast<unsigned>(d.c), static_cast<unsigned>(sp.parts));
  batch_norm_fwd_partial_kernel<<<grid, kStatsThreads, 0, s>>>(x.data<float>(), d.c, d.hw, d.m(), sp.part_len, part_sum,
                                                               part_sq);
  PLEURA_CUDA_LAUNCH_CHECK();
  // The statistics' inputs: this rank's parts, or (synchronised) the ranks' summed vector.
  const double* sum_in = part_sum;
  const double* sq_in = part_sq;
  int parts_per_channel = sp.parts;
  const double* m_summed = nullptr;
  Tensor sums;  // synchronised: [sum..., sum of squares..., M] over every rank
  if (p.sync != nullptr && p.sync->size() > 1) {
    sums = Tensor::empty(Shape{2 * d.c + 1}, DType::kFloat64, x.device());
    batch_norm_rank_sums_kernel<<<grid_for(d.c), kBlockThreads, 0, s>>>(
        part_sum, part_sq, sp.parts, d.c, static_cast<double>(d.m()), sums.data<double>());
    PLEURA_CUDA_LAUNCH_CHECK();
    p.sync->all_reduce_sum(sums);
    sum_in = sums.data<double>();
    sq_in = sum_in + d.c;
    parts_per_channel = 1;
    m_summed = sum_in + 2 * d.c;
  }
  batch_norm_fwd_stats_kernel<<<grid_for(d.c), kBlockThreads, 0, s>>>(
      sum_in, sq_in, parts_per_channel, d.c, static_cast<double>(d.m()), m_summed, p.eps, p.momentum,
      running_mean.data<float>(), running_var.data<float>(), save_mean.data<float>(), save_invstd.data<float>(),
      stats.data<double>());
  PLEURA_CUDA_LAUNCH_CHECK();
  launch_normalise(x, stats, weight, bias, y, d, p, s);
}

void batch_norm_fwd_eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, const BatchNormParams& p, Tensor& y, Tensor& save_mean,
                         Tensor& save_invstd, Tensor* stats_out) {
  Dims d = dims_of(x);
  if (d.c == 0) return;
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = stream(dev);
  // The statistics the normalising pass reads: the caller's tensor when it keeps them (engine/ops/batch_norm.h).
  Tensor stats = stats_out != nullptr ? *stats_out : Tensor::empty(Shape{2 * d.c}, DType::kFloat64, x.device());
  batch_norm_fwd_eval_stats_kernel<<<grid_for(d.c), kBlockThreads, 0, s>>>(
      running_mean.data<float>(), running_var.data<float>(), d.c, p.eps, save_mean.data<float>(),
      save_invstd.data<float>(), stats.data<double>());
  PLEURA_CUDA_LAUNCH_CHECK();
  launch_normalise(x, stats, weight, bias, y, d, p, s);
}

void batch_norm_normalise(const Tensor& x, const Tensor& stats, const Tensor& weight, const Tensor& bias, bool relu,
                          Tensor& y) {
  const Dims d = dims_of(x);
  if (d.c == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  BatchNormParams p;
  p.relu = relu;
  launch_normalise(x, stats, weight, bias, y, d, p, stream(dev));
}

// Synchronised (`sync` over more than one rank, training), grad_x takes the sums over every rank's values;
// grad_weight and grad_bias stay this rank's share, as on the CPU (the trainer sums those over ranks).
void batch_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd,
                    bool training, Communicator* sync, const Tensor& grad_y, Tensor* grad_x, Tensor* grad_weight,
                    Tensor* grad_bias) {
  Dims d = dims_of(x);
  if (d.c == 0) return;
  int dev = x.device().index;
  DeviceGuard guard(dev);
  cudaStream_t s = stream(dev);
  const float* mean_dev = save_mean.data<float>();
  const float* invstd_dev = save_invstd.data<float>();
  const bool synced = sync != nullptr && sync->size() > 1 && training && grad_x != nullptr;
  // Channel sums: for grad_weight and grad_bias, and for grad_x in training (batch statistics).
  Tensor means;
  if (grad_weight || grad_bias || (grad_x && training)) {
    Split sp = split_channel(d.m());
    Tensor parts = Tensor::empty(Shape{2 * d.c * sp.parts}, DType::kFloat64, x.device());
    means = Tensor::empty(Shape{2 * d.c + (synced ? 1 : 0)}, DType::kFloat64, x.device());
    double* part_g = parts.data<double>();
    double* part_gxh = part_g + d.c * sp.parts;
    dim3 grid(static_cast<unsigned>(d.c), static_cast<unsigned>(sp.parts));
    with_stored_data<float>(x, [&](const auto* px) {
      batch_norm_bwd_partial_kernel<<<grid, kStatsThreads, 0, s>>>(px, grad_y.data<float>(), mean_dev, invstd_dev, d.c,
                                                                   d.hw, d.m(), sp.part_len, part_g, part_gxh);
    });
    PLEURA_CUDA_LAUNCH_CHECK();
    batch_norm_bwd_sums_kernel<<<grid_for(d.c), kBlockThreads, 0, s>>>(
        part_g, part_gxh, sp.parts, d.c, static_cast<double>(d.m()), grad_weight ? grad_weight->data<float>() : nullptr,
        grad_bias ? grad_bias->data<float>() : nullptr, synced ? nullptr : means.data<double>());
    PLEURA_CUDA_LAUNCH_CHECK();
    if (synced) {
      batch_norm_rank_sums_kernel<<<grid_for(d.c), kBlockThreads, 0, s>>>(
          part_g, part_gxh, sp.parts, d.c, static_cast<double>(d.m()), means.data<double>());
      PLEURA_CUDA_LAUNCH_CHECK();
      sync->all_reduce_sum(means);
      batch_norm_bwd_means_kernel<<<grid_for(d.c), kBlockThreads, 0, s>>>(means.data<double>(), d.c);
      PLEURA_CUDA_LAUNCH_CHECK();
    }
  }
  int64_t total = x.numel();
  if (!grad_x || total == 0) return;
  with_stored_data<float>(x, [&](const auto* px) {
    batch_norm_bwd_kernel<<<grid_for(total), kBlockThreads, 0, s>>>(
        px, grad_y.data<float>(), data_or_null(weight), mean_dev, invstd_dev, training ? means.data<double>() : nullptr,
        grad_x->data<float>(), total, d.c, d.hw);
  });
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
