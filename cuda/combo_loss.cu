// CUDA kernels of combo_loss (engine/ops/combo_loss.h); twin: cpu/combo_loss.cpp (same element terms).
// Forward: a grid of (chunks, images) blocks, the chunk count fixed by the image size, each block writing
// its kComboSumCount partial sums (double); one thread per (image, sum) adds the partials in chunk order
// (the order the host used to add them in). No atomics, so the sums are the same on every run. The loss
// from the sums: one thread running engine/ops/combo_loss_math.h, as the CPU does. Backward: one
// elementwise pass reading the dice coefficients and the clamp from the result on the device.
#include <vector>

#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "cuda/stable_sigmoid.cuh"
#include "engine/cuda_runtime.h"
#include "engine/ops/combo_loss.h"
#include "engine/ops/combo_loss_math.h"

namespace pleura::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxChunks = 128;
constexpr unsigned kMaxGridY = 65535;

// float32 bounds of the focal clamp: 1 - 1e-8 rounds to 1.0f (see cpu/combo_loss.cpp).
constexpr float kFocalLo = 1e-8f;
constexpr float kFocalHi = 1.0f - 1e-8f;

__device__ inline float clamp_focal(float v) { return fminf(fmaxf(v, kFocalLo), kFocalHi); }

// pt = (1-t')(1-p') + t'*p' with the CPU's roundings: the _rn intrinsics stop nvcc from contracting
// the product and the sum into one FMA.
__device__ inline float focal_pt(float pc, float tc) {
  return __fadd_rn(__fmul_rn(__fsub_rn(1.f, tc), __fsub_rn(1.f, pc)), __fmul_rn(tc, pc));
}

__global__ void combo_loss_fwd_kernel(const float* x, const float* t, int64_t per_image, int64_t n_images,
                                      double* partial) {
  for (int64_t n = blockIdx.y; n < n_images; n += gridDim.y) {
    double acc[kComboSumCount] = {};
    const float* xi = x + n * per_image;
    const float* ti = t + n * per_image;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < per_image;
         i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
      float xv = xi[i], tv = ti[i];
      float p = stable_sigmoid(xv);
      double xd = xv, td = tv, pd = p;
      acc[kSumBce] += fmax(xd, 0.0) - xd * td + log1p(exp(-fabs(xd)));
      acc[kSumPT] += pd * td;
      acc[kSumP] += pd;
      acc[kSumT] += td;
      double q = focal_pt(clamp_focal(p), clamp_focal(tv));
      acc[kSumFocal] += -(1.0 - q) * (1.0 - q) * log(q);
      acc[kSumBadTargets] += (tv >= 0.f && tv <= 1.f) ? 0.0 : 1.0;
      acc[kSumNonFinite] += isfinite(xv) ? 0.0 : 1.0;
    }
    double* out = partial + (n * gridDim.x + blockIdx.x) * kComboSumCount;
    for (int k = 0; k < kComboSumCount; ++k) {
      double v = block_sum(acc[k]);
      if (threadIdx.x == 0) out[k] = v;
    }
  }
}

// sums[n][k] = the partials of image n, sum k, added in chunk order.
__global__ void combine_partials_kernel(const double* partial, int64_t chunks, int64_t n_images, double* sums) {
  PLEURA_KERNEL_LOOP(j, n_images * kComboSumCount) {
    const int64_t n = j / kComboSumCount, k = j % kComboSumCount;
    double s = 0.0;
    for (int64_t c = 0; c < chunks; ++c) s = __dadd_rn(s, partial[(n * chunks + c) * kComboSumCount + k]);
    sums[j] = s;
  }
}

template <class T>
__global__ void finish_kernel(const double* sums, ComboFinish f, double* result, T* loss) {
  combo_math::finish(sums, f, result);
  loss[0] = static_cast<T>(result[0]);
}

__global__ void combo_loss_bwd_kernel(const float* x, const float* t, int64_t per_image, int64_t total,
                                      const double* result, int64_t n_images, double bce_scale, double focal_scale,
                                      const float* grad_out, float* grad_x) {
  const bool passes = reinterpret_cast<const ComboResult*>(result)->passes != 0.0;
  const double* dice_a = result + kComboResultFields;
  const double* dice_b = dice_a + n_images;
  double g = grad_out[0];
  PLEURA_KERNEL_LOOP(i, total) {
    if (!passes) {  // below the 1e-5 clamp the gradient is zero
      grad_x[i] = 0.f;
      continue;
    }
    int64_t n = i / per_image;
    float xv = x[i], tv = t[i];
    float p = stable_sigmoid(xv);
    double xd = xv, td = tv, pd = p;
    // BCE gradient sigmoid(x) - t, and 1 - t at x == 0 (the reference's autograd; see the CPU twin).
    double e = exp(-fabs(xd));
    double sig = xd >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    double grad_bce = xd == 0 ? 1.0 - td : sig - td;
    double grad_focal = 0.0;
    if (p >= kFocalLo && p <= kFocalHi) {
      float tc = clamp_focal(tv);
      double q = focal_pt(p, tc);
      double dq = static_cast<double>(tc) - static_cast<double>(__fsub_rn(1.f, tc));
      grad_focal = (2.0 * (1.0 - q) * log(q) - (1.0 - q) * (1.0 - q) / q) * dq;
    }
    double d = bce_scale * grad_bce + (dice_a[n] - dice_b[n] * td + focal_scale * grad_focal) * pd * (1.0 - pd);
    grad_x[i] = static_cast<float>(g * d);
  }
}

}  // namespace

void combo_loss_sums(const Tensor& logits, const Tensor& targets, int64_t n_images, Tensor& sums) {
  int dev = logits.device().index;
  DeviceGuard guard(dev);
  int64_t per_image = logits.numel() / n_images;
  // The chunk count depends on the image size only, so the partials (and their sum) are reproducible.
  int64_t chunks = std::min<int64_t>(kMaxChunks, (per_image + kThreads * 4 - 1) / (kThreads * 4));
  unsigned grid_y = static_cast<unsigned>(std::min<int64_t>(n_images, kMaxGridY));
  Tensor partial = Tensor::empty(Shape{n_images * chunks * kComboSumCount}, DType::kFloat64, logits.device());
  combo_loss_fwd_kernel<<<dim3(static_cast<unsigned>(chunks), grid_y), kThreads, 0, stream(dev)>>>(
      logits.data<float>(), targets.data<float>(), per_image, n_images, partial.data<double>());
  PLEURA_CUDA_LAUNCH_CHECK();
  combine_partials_kernel<<<grid_for(n_images * kComboSumCount), kBlockThreads, 0, stream(dev)>>>(
      partial.data<double>(), chunks, n_images, sums.data<double>());
  PLEURA_CUDA_LAUNCH_CHECK();
}

void combo_loss_finish(const Tensor& sums, const ComboFinish& f, Tensor& result, Tensor& loss) {
  int dev = sums.device().index;
  DeviceGuard guard(dev);
  finish_kernel<<<1, 1, 0, stream(dev)>>>(sums.data<double>(), f, result.data<double>(), loss.data<float>());
  PLEURA_CUDA_LAUNCH_CHECK();
}

void combo_loss_bwd(const Tensor& logits, const Tensor& targets, int64_t n_images, const ComboBackwardScales& scales,
                    const Tensor& result, const Tensor& grad_out, Tensor& grad_logits) {
  int dev = logits.device().index;
  DeviceGuard guard(dev);
  int64_t total = logits.numel();
  combo_loss_bwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(
      logits.data<float>(), targets.data<float>(), total / n_images, total, result.data<double>(), n_images,
      scales.bce_scale, scales.focal_scale, grad_out.data<float>(), grad_logits.data<float>());
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
