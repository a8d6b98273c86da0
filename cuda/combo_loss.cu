// CUDA kernels of combo_loss (engine/ops/combo_loss.h); twin: cpu/combo_loss.cpp (same element terms).
// Forward: a grid of (chunks, images) blocks, the chunk count fixed by the image size, each block writing
// its kComboSumCount partial sums (double); the host adds the partials in order. No atomics, so the sums
// are the same on every run. Backward: one elementwise pass.
#include <vector>

#include "cuda/block_reduce.cuh"
#include "cuda/launch.h"
#include "cuda/stable_sigmoid.cuh"
#include "engine/cuda_runtime.h"
#include "engine/ops/combo_loss.h"

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

__global__ void combo_loss_bwd_kernel(const float* x, const float* t, int64_t per_image, int64_t total,
                                      const double* dice_a, const double* dice_b, double bce_scale, double focal_scale,
                                      const float* grad_out, float* grad_x) {
  double g = grad_out[0];
  PLEURA_KERNEL_LOOP(i, total) {
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

void combo_loss_sums(const Tensor& logits, const Tensor& targets, int64_t n_images, std::vector<double>& sums) {
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
  std::vector<double> host(static_cast<size_t>(partial.numel()));
  copy_d2h(host.data(), partial.raw(), host.size() * sizeof(double), dev);
  sums.assign(static_cast<size_t>(n_images * kComboSumCount), 0.0);
  for (int64_t n = 0; n < n_images; ++n)
    for (int64_t c = 0; c < chunks; ++c)
      for (int k = 0; k < kComboSumCount; ++k)
        sums[static_cast<size_t>(n * kComboSumCount + k)] +=
            host[static_cast<size_t>((n * chunks + c) * kComboSumCount + k)];
}

void combo_loss_bwd(const Tensor& logits, const Tensor& targets, int64_t n_images,
                    const ComboBackwardCoefficients& coef, const Tensor& grad_out, Tensor& grad_logits) {
  int dev = logits.device().index;
  DeviceGuard guard(dev);
  int64_t total = logits.numel();
  Tensor a = Tensor::from_vector(coef.dice_a, Shape{n_images}, DType::kFloat64).to(logits.device());
  Tensor b = Tensor::from_vector(coef.dice_b, Shape{n_images}, DType::kFloat64).to(logits.device());
  combo_loss_bwd_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(
      logits.data<float>(), targets.data<float>(), total / n_images, total, a.data<double>(), b.data<double>(),
      coef.bce_scale, coef.focal_scale, grad_out.data<float>(), grad_logits.data<float>());
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
