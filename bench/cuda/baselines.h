// GPU benchmark baselines measured in the same process: device-to-device copy bandwidth, cuBLAS SGEMM
// rate (strict FP32 and TF32), and an event timer on Pleura's compute stream.
#pragma once

#include <functional>

namespace pleura::bench {

// Median over repeats of a cudaMemcpy of `bytes` device to device; counts bytes read plus written.
double copy_gbps(size_t bytes);
// Median cuBLAS sgemm rate for C[m,n] = A[m,k] B[k,n], in TFLOP/s (2mnk per product).
double gemm_tflops(int m, int n, int k, bool tf32);
// Median milliseconds of fn (work launched on device 0's Pleura stream), timed with CUDA events.
double time_ms(const std::function<void()>& fn, int warmup = 3, int iters = 15);

}  // namespace pleura::bench
