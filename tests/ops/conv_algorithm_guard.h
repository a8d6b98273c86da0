// AlgorithmGuard for the CPU convolution tests (tests/ops/test_conv2d_onednn.cpp,
// tests/ops/test_conv2d_winograd.cpp): restores the process-wide algorithm (cpu/conv_algorithm.h) and the
// thread count when a test ends, even on failure.
#pragma once

#include "cpu/conv_algorithm.h"
#include "engine/parallel.h"

namespace pleura::testing {

struct AlgorithmGuard {
  cpu::ConvAlgorithm saved = cpu::conv_algorithm();
  int threads = num_threads();
  ~AlgorithmGuard() {
    cpu::set_conv_algorithm(saved);
    set_num_threads(threads);
  }
};

}  // namespace pleura::testing
