// CUDA kernels of the triplet ops (engine/ops/triplet_mask.h); twin: cpu/triplet_mask.cpp.
// Statistics: each block keeps the sorted thresholds and two histograms in shared memory (bin b = number
// of thresholds below p); a warp adds each distinct bin once (__match_any_sync), blocks add their bins
// to a per-image int64 histogram, and the host turns bins into counts above each threshold. All counts
// are integers, so the atomics' order cannot change them: results equal the CPU's exactly.
#include <vector>

#include "cuda/launch.h"
#include "engine/cuda_runtime.h"
#include "engine/ops/triplet_mask.h"
#include "engine/ops/triplet_mask_math.h"

namespace pleura::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxChunks = 256;
constexpr unsigned kMaxGridY = 65535;

__device__ inline float pixel_p(const float* x, int64_t i, bool logit) {
  float v = x[i];
  return logit ? triplet_math::portable_sigmoid(v) : v;
}

template <class TruthT>
__global__ void threshold_hist_kernel(const float* x, const TruthT* truth, const float* thr, int u, int64_t hw,
                                      int64_t n_images, bool logit, unsigned long long* hist) {
  extern __shared__ unsigned char smem[];
  float* s_thr = reinterpret_cast<float*>(smem);
  unsigned* s_all = reinterpret_cast<unsigned*>(s_thr + u);
  unsigned* s_truth = s_all + (u + 1);
  for (int j = threadIdx.x; j < u; j += blockDim.x) s_thr[j] = thr[j];
  const int lane = threadIdx.x & 31;
  for (int64_t n = blockIdx.y; n < n_images; n += gridDim.y) {
    for (int j = threadIdx.x; j <= u; j += blockDim.x) {
      s_all[j] = 0;
      s_truth[j] = 0;
    }
    __syncthreads();
    const float* xn = x + n * hw;
    // The loop bound is the same for every thread of the block, so whole warps reach __match_any_sync.
    for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.x; base < hw;
         base += static_cast<int64_t>(blockDim.x) * gridDim.x) {
      int64_t i = base + threadIdx.x;
      int bin = -1, truth_bin = -1;
      if (i < hw) {
        bin = triplet_math::threshold_bin(s_thr, u, pixel_p(xn, i, logit));
        if (truth != nullptr && truth[n * hw + i] != TruthT(0)) truth_bin = bin;
      }
      // Most pixels of a warp share a bin (background): one shared atomic per distinct bin.
      unsigned peers = __match_any_sync(0xffffffffu, bin);
      if (bin >= 0 && lane == __ffs(peers) - 1) atomicAdd(&s_all[bin], static_cast<unsigned>(__popc(peers)));
      if (truth != nullptr) {
        unsigned truth_peers = __match_any_sync(0xffffffffu, truth_bin);
        if (truth_bin >= 0 && lane == __ffs(truth_peers) - 1)
          atomicAdd(&s_truth[truth_bin], static_cast<unsigned>(__popc(truth_peers)));
      }
    }
    __syncthreads();
    unsigned long long* h = hist + n * 2 * (u + 1);
    for (int j = threadIdx.x; j <= u; j += blockDim.x) {
      if (s_all[j]) atomicAdd(&h[j], static_cast<unsigned long long>(s_all[j]));
      if (s_truth[j]) atomicAdd(&h[u + 1 + j], static_cast<unsigned long long>(s_truth[j]));
    }
    __syncthreads();  // the histograms are cleared for the next image
  }
}

__global__ void triplet_mask_fill_kernel(const float* x, int64_t hw, int64_t total, bool logit, const float* bottoms,
                                         const uint8_t* keep, int k_count, uint8_t* masks) {
  PLEURA_KERNEL_LOOP(i, total) {
    int64_t n = i / hw, s = i % hw;
    float p = pixel_p(x, i, logit);
    // Writes of one k are contiguous across the threads of a warp.
    for (int k = 0; k < k_count; ++k)
      masks[(n * k_count + k) * hw + s] = (keep[n * k_count + k] && p > bottoms[k]) ? 1 : 0;
  }
}

}  // namespace

void threshold_stats(const Tensor& scores, const Tensor* truth, const std::vector<float>& thr, ScoreKind kind,
                     std::vector<int64_t>& stats) {
  int dev = scores.device().index;
  DeviceGuard guard(dev);
  int64_t n_images = scores.size(0), hw = scores.size(2) * scores.size(3);
  int u = static_cast<int>(thr.size());
  // Each block counts at most hw pixels of an image in 32-bit shared counters.
  PLEURA_CHECK(hw < (int64_t{1} << 32), "[threshold_stats] ", hw, " pixels per image, at most 2^32 - 1 on CUDA");
  Tensor thr_dev = Tensor::from_vector(std::vector<double>(thr.begin(), thr.end()), Shape{u}).to(scores.device());
  Tensor hist = Tensor::zeros(Shape{n_images * 2 * (u + 1)}, DType::kInt64, scores.device());
  int64_t chunks = std::min<int64_t>(kMaxChunks, (hw + kThreads * 8 - 1) / (kThreads * 8));
  dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>(std::min<int64_t>(n_images, kMaxGridY)));
  size_t smem = static_cast<size_t>(u) * sizeof(float) + 2 * static_cast<size_t>(u + 1) * sizeof(unsigned);
  auto* h = reinterpret_cast<unsigned long long*>(hist.data<int64_t>());
  bool logit = kind == ScoreKind::kLogit;
  cudaStream_t s = stream(dev);
  if (truth == nullptr) {
    threshold_hist_kernel<uint8_t>
        <<<grid, kThreads, smem, s>>>(scores.data<float>(), nullptr, thr_dev.data<float>(), u, hw, n_images, logit, h);
  } else if (truth->dtype() == DType::kUInt8) {
    threshold_hist_kernel<uint8_t><<<grid, kThreads, smem, s>>>(scores.data<float>(), truth->data<uint8_t>(),
                                                                thr_dev.data<float>(), u, hw, n_images, logit, h);
  } else {
    threshold_hist_kernel<float><<<grid, kThreads, smem, s>>>(scores.data<float>(), truth->data<float>(),
                                                              thr_dev.data<float>(), u, hw, n_images, logit, h);
  }
  PLEURA_CUDA_LAUNCH_CHECK();
  std::vector<int64_t> bins(static_cast<size_t>(hist.numel()));
  copy_d2h(bins.data(), hist.raw(), bins.size() * sizeof(int64_t), dev);
  // Counts above thr[j] are the bins past j: p > thr[j] exactly when more than j thresholds lie below p.
  int64_t cols = 2 * u + 1;
  stats.assign(static_cast<size_t>(n_images * cols), 0);
  for (int64_t n = 0; n < n_images; ++n) {
    const int64_t* all = &bins[static_cast<size_t>(n * 2 * (u + 1))];
    const int64_t* tru = all + (u + 1);
    int64_t* out = &stats[static_cast<size_t>(n * cols)];
    int64_t run_all = 0, run_truth = 0;
    for (int j = u - 1; j >= 0; --j) {
      run_all += all[j + 1];
      run_truth += tru[j + 1];
      out[j] = run_all;
      out[u + j] = run_truth;
    }
    out[2 * u] = run_truth + tru[0];
  }
}

void triplet_mask_fill(const Tensor& scores, ScoreKind kind, const std::vector<float>& bottoms,
                       const std::vector<uint8_t>& keep, Tensor& masks) {
  int dev = scores.device().index;
  DeviceGuard guard(dev);
  int64_t hw = scores.size(2) * scores.size(3), total = scores.numel();
  int k_count = static_cast<int>(bottoms.size());
  Tensor bottoms_dev =
      Tensor::from_vector(std::vector<double>(bottoms.begin(), bottoms.end()), Shape{k_count}).to(scores.device());
  Tensor keep_dev = Tensor::from_vector(std::vector<double>(keep.begin(), keep.end()),
                                        Shape{static_cast<int64_t>(keep.size())}, DType::kUInt8)
                        .to(scores.device());
  triplet_mask_fill_kernel<<<grid_for(total), kBlockThreads, 0, stream(dev)>>>(
      scores.data<float>(), hw, total, kind == ScoreKind::kLogit, bottoms_dev.data<float>(), keep_dev.data<uint8_t>(),
      k_count, masks.data<uint8_t>());
  PLEURA_CUDA_LAUNCH_CHECK();
}

}  // namespace pleura::cuda
