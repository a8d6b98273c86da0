// EventTimer: times work on a CUDA stream with a pair of events, destroyed (a failure logged) on every path.
// Used by cuDNN's measured algorithm choice (cuda/conv2d_cudnn.cu) and by the GPU benchmarks
// (bench/cuda/baselines.cu); exercised by their gpu cases.
#pragma once

#include "cuda/cuda_check.h"
#include "engine/counters.h"

namespace pleura::cuda {

class EventTimer {
 public:
  EventTimer() {
    PLEURA_CUDA_CHECK(cudaEventCreate(&start_));
    PLEURA_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~EventTimer() {
    PLEURA_CUDA_CHECK_LOG(cudaEventDestroy(start_));
    PLEURA_CUDA_CHECK_LOG(cudaEventDestroy(stop_));
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  void start(cudaStream_t s) { PLEURA_CUDA_CHECK(cudaEventRecord(start_, s)); }
  // Waits for the stream's work up to now (a host synchronisation, counted: engine/counters.h) and returns
  // the milliseconds since start().
  double stop_ms(cudaStream_t s) {
    PLEURA_CUDA_CHECK(cudaEventRecord(stop_, s));
    PLEURA_CUDA_CHECK(cudaEventSynchronize(stop_));
    count(Counter::kSynchronization);
    float ms = 0.f;
    PLEURA_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace pleura::cuda
