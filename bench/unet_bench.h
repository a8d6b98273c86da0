// The measurement behind bench/bench_unet: time a training step (forward, combo loss, backward, gradient
// clipping, Adam step) and an eval forward of one of the three UNets, median over N steps after warm-up.
// Test: tests/bench/test_bench_unet.cpp.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "engine/device.h"
#include "tools/runner.h"

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
  // Floating-point operations (models/registry.h, model_flops): one image's forward, and a training step
  // of the batch by the 3x-forward convention, in TFLOP; the achieved rate is train_step_tflop / train_step_s.
  int64_t flops_per_image_forward = 0;
  double train_step_tflop = 0;
};

UnetBenchResult run_unet_bench(const UnetBenchOptions& options);
// The tool bench_unet (run by tools/runner.h; main in bench/bench_unet.cpp): runs, prints a table and, with
// --json, a last line of JSON.
tools::Tool bench_unet_tool();

}  // namespace pleura
