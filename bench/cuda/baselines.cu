// Baselines of bench_cuda_ops (baselines.h): copy bandwidth and cuBLAS GEMM rate, timed with events.
#include "bench/cuda/baselines.h"

#include <algorithm>
#include <vector>

#include "cuda/context.h"
#include "cuda/event_timer.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace pleura::bench {

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

double time_ms(const std::function<void()>& fn, int warmup, int iters) {
  cudaStream_t s = cuda::stream(0);
  for (int i = 0; i < warmup; ++i) fn();
  cuda::EventTimer timer;
  std::vector<double> times;
  for (int i = 0; i < iters; ++i) {
    timer.start(s);
    fn();
    times.push_back(timer.stop_ms(s));
  }
  return median(times);
}

double copy_gbps(size_t bytes) {
  Rng rng(1);
  int64_t n = static_cast<int64_t>(bytes / 4);
  Tensor src = rand_uniform({n}, rng, -1, 1, DType::kFloat32, Device::cuda());
  Tensor dst = Tensor::empty({n}, DType::kFloat32, Device::cuda());
  cudaStream_t s = cuda::stream(0);
  double ms = time_ms([&] {
    PLEURA_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), bytes, cudaMemcpyDeviceToDevice, s));
  });
  return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;
}

double gemm_tflops(int m, int n, int k, bool tf32) {
  Rng rng(2);
  Tensor a = rand_uniform({m, k}, rng, -1, 1, DType::kFloat32, Device::cuda());
  Tensor b = rand_uniform({k, n}, rng, -1, 1, DType::kFloat32, Device::cuda());
  Tensor c = Tensor::empty({m, n}, DType::kFloat32, Device::cuda());
  cublasHandle_t h = cuda::cublas(0);
  PLEURA_CUBLAS_CHECK(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const float alpha = 1.f, beta = 0.f;
  // Row-major C = A B is column-major C^T = B^T A^T.
  double ms = time_ms([&] {
    PLEURA_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha, b.data<float>(), n,
                                    a.data<float>(), k, &beta, c.data<float>(), n));
  });
  cuda::apply_math_mode(h);
  return 2.0 * m * n * k / (ms * 1e-3) / 1e12;
}

}  // namespace pleura::bench
