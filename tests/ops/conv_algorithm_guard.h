// Shared pieces of the CPU convolution tests (tests/ops/test_conv2d_onednn.cpp, test_conv2d_relu.cpp,
// test_conv2d_winograd.cpp, test_conv2d_winograd_f4.cpp): AlgorithmGuard, which restores the process-wide
// algorithm (cpu/conv_algorithm.h) and the thread count when a test ends, even on failure; and the shape
// cases of the two Winograd tests' 3x3 stride-1 convolutions.
#pragma once

#include <cstdint>

#include "cpu/conv_algorithm.h"
#include "engine/ops/conv2d.h"
#include "engine/parallel.h"
#include "engine/shape.h"

namespace pleura::testing {

// Stride 1, undilated, zero padding pad_h x pad_w.
inline Conv2dParams padding(int64_t pad_h, int64_t pad_w) {
  Conv2dParams p;
  p.pad_h = pad_h, p.pad_w = pad_w;
  return p;
}

// A 3x3 stride-1 convolution of input x to k output channels.
struct WinogradCase {
  const char* name;
  Shape x;
  int64_t k;
  Conv2dParams p;
};

struct AlgorithmGuard {
  cpu::ConvAlgorithm saved = cpu::conv_algorithm();
  int threads = num_threads();
  ~AlgorithmGuard() {
    cpu::set_conv_algorithm(saved);
    set_num_threads(threads);
  }
};

}  // namespace pleura::testing
