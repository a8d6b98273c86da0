// CPU-vs-CUDA parity check, reused by every op, layer and model test in the gpu suite.
//
// Runs fn on float32 CPU copies of the inputs and on CUDA copies, then back-propagates
// L = sum(out * w) with the same random w on both, and compares the output and the gradient of every
// input that requires one. Error of one element: |cuda - cpu| / (|cpu| + floor), floor = 1e-3 × the
// largest |cpu| of that tensor (so near-zero elements are judged on the tensor's scale). Empty tensors
// are NaN-poisoned by the test runner, so an element a kernel forgot to write fails the check.
#pragma once

#include <string>
#include <vector>

#include "engine/cuda_runtime.h"
#include "tests/gradcheck.h"

namespace pleura::testing {

// How an element's difference is scaled.
enum class ParityMeasure {
  // |cuda - cpu| / (|cpu| + 1e-3 max |cpu|): for ops whose two backends do the same arithmetic.
  kElementwise,
  // |cuda - cpu| / m, where m is what the same computation gives on the absolute values of the inputs
  // (in float64): for linear ops (convolutions) it is the sum of the magnitudes of the terms that make
  // the element, to which float32 rounding is proportional whatever the summation order. Backends that
  // sum hundreds of products in different orders (cuDNN, OpenBLAS) differ by a few ulps of m, which
  // can be far more than 1e-3 of the largest output where the terms cancel.
  kTermMagnitude,
};

struct ParityOptions {
  double tolerance = 1e-5;            // pointwise, pooling, upsample, batch norm; 1e-4 for convolutions
  std::vector<bool> requires_grad;    // per input; empty: all inputs
  uint64_t seed = 5;
  ParityMeasure measure = ParityMeasure::kElementwise;
};

// Returns the largest error seen (also CHECKed against options.tolerance).
double check_cuda_parity(const GradFn& fn, const std::vector<Tensor>& inputs, const std::string& what,
                         const ParityOptions& options = {});

// The error measure above, for tests that compare other things.
double parity_error(const Tensor& cuda_result, const Tensor& cpu_reference);

// While alive, the CUDA kernels that choose between 32- and 64-bit index arithmetic (cuda/launch.h's
// narrow_indices_fit) take the 64-bit one, which real tensors would need only past 2^31 elements: the
// parity tests run both variants on small tensors.
class WideIndicesScope {
 public:
  explicit WideIndicesScope(bool wide) : before_(cuda::wide_indices_forced().exchange(wide)) {}
  ~WideIndicesScope() { cuda::wide_indices_forced().store(before_); }
  WideIndicesScope(const WideIndicesScope&) = delete;
  WideIndicesScope& operator=(const WideIndicesScope&) = delete;

 private:
  bool before_;
};

}  // namespace pleura::testing
