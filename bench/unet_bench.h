// The measurement behind bench/bench_unet: time a training step (forward, combo loss, backward, gradient
// clipping, Adam step) and an eval forward of one of the three UNets, median over N steps after warm-up.
// Test: tests/bench/test_bench_unet.cpp.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "engine/device.h"

namespace pleura {

struct UnetBenchOptions {
  std::string model = "albunet";
  int64_t size = 256;
  int64_t batch = 2;
  int64_t steps = 5;   // timed steps (median reported)
  int64_t warmup = 1;  // untimed steps first (cuDNN algorithm choice, allocator, caches)
  Device device = Device::cpu();
};

struct UnetBenchResult {
  double train_step_s = 0;  // median seconds of one training step
  double forward_s = 0;     // median seconds of one eval forward (no gradient)
  double final_loss = 0;    // loss of the last step (a sanity check: finite)
  int64_t peak_bytes = 0;   // CUDA only: peak bytes held by tensors (caching allocator)
  int64_t parameters = 0;
};

UnetBenchResult run_unet_bench(const UnetBenchOptions& options);
// The tool: parses args, runs, prints a table and, with --json, a last line of JSON.
int bench_unet_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pleura
