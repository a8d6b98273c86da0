// Shared test helpers: seeded random tensors, float comparisons with stated tolerances, error-message
// checks, injected host allocation failures, and GPU availability (a gpu test without a device is counted as skipped, visibly).
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/cuda_runtime.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace pleura::testing {

// Random tensor with values uniform in [lo, hi), from a fixed seed.
Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype = DType::kFloat64, double lo = -1.0,
                     double hi = 1.0);

// Largest |a - b| / (atol + |b|) over all elements; NaN anywhere gives infinity. b is the reference.
double max_rel_error(const Tensor& a, const Tensor& b, double atol);
// Largest |t| over all elements, and largest |a - b| (same element counts).
double max_abs(const Tensor& t);
double max_abs_diff(const Tensor& a, const Tensor& b);
// Same shapes, and every element within: |a - b| <= atol + rtol * |b| (NaN never passes).
void expect_close(const Tensor& a, const Tensor& b, double rtol, double atol, const std::string& what);

// Runs fn, expects a pleura::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts);

// Makes host allocations of at least `bytes` fail as if out of memory, for its lifetime
// (engine/host_allocator.h).
struct HostAllocFailure {
  explicit HostAllocFailure(size_t bytes);
  ~HostAllocFailure();
  HostAllocFailure(const HostAllocFailure&) = delete;
  HostAllocFailure& operator=(const HostAllocFailure&) = delete;
};

// True when a CUDA device can be used; otherwise notes the skip (counted and reported by main).
bool gpu_available_or_skip();
int skipped_gpu_cases();

}  // namespace pleura::testing

// First statement of every gpu-suite test case.
#define PLEURA_REQUIRE_GPU() \
  if (!::pleura::testing::gpu_available_or_skip()) return
