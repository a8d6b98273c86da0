// The measurement behind the tool bench_unet: where the time of one of the three UNets goes, on the CPU
// or a GPU. A training step (upload of the batch, forward, combo loss, backward, gradient clipping and
// Adam) is timed whole, median over N steps after warm-up, with the engine's counters per step
// (engine/counters.h: host reads and waits, kernel launches, library calls); the same steps run again
// with a device synchronisation between phases give each phase's time; inference (eval forward,
// sigmoid, optional flip TTA, as infer_unet computes it) is timed at its own batch size. FLOP counts come
// from the registry (models/registry.h). Test: tests/bench/test_bench_unet.cpp.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "engine/counters.h"
#include "engine/device.h"
#include "engine/conv_algorithm_choice.h"
#include "engine/precision.h"
#include "engine/host_allocator.h"
#include "engine/tensor_memory.h"
#include "tools/runner.h"

namespace pleura {

struct UnetBenchOptions {
  std::string model = "albunet";
  int64_t size = 256;
  int64_t batch = 2;        // training batch
  int64_t infer_batch = 0;  // inference batch; 0: the training batch
  bool flip = false;        // inference with horizontal-flip TTA (two forwards per image)
  int64_t steps = 5;        // timed steps (median reported)
  int64_t warmup = 1;       // untimed steps first (cuDNN algorithm choice, allocator, caches)
  bool infer_only = false;  // time the inference batch alone (no training step, no optimizer state)
  bool fold_bn = true;      // inference with the batch norms folded into the convolutions, as infer_unet
                            // (layers/conv_bn.h); false: the layers one after another
  bool cuda_graphs = false;  // the training step as train_unet's [run] cuda_graphs (train/captured_steps.h),
                             // inference as infer_unet --cuda-graphs (engine/captured_function.h)
  bool exact_convolutions = false;  // inference without the CPU's Winograd F(4x4,3x3) 3x3 convolutions, as
                                    // infer_unet --exact-convolutions (cpu/conv2d_winograd_f4.h)
  int64_t log_every = 0;    // steps between readings of the step ledger, as train_unet's [run] log_every;
                            // 0: its default for the device
  bool held_by_op = false;  // list what the last forward pass leaves held for backward, by op
                            // (engine/tensor_memory.h's ledger, on for that forward pass only)
  Device device = Device::cpu();
  Precision precision = Precision::kFloat32;  // bf16: convolutions in bfloat16 (engine/precision.h)
  // cuDNN's algorithms timed at first use, in the warm-up steps (measured), or its ranking (reproducible)
  ConvAlgorithmChoice cudnn_algorithms = ConvAlgorithmChoice::kMeasured;
};

// Median, fastest and slowest of a set of timings, in seconds.
struct Timing {
  double median = 0;
  double min = 0;
  double max = 0;
};

// Median seconds of each phase of a training step, measured with a device synchronisation at each phase
// boundary (so they add up to a little more than the whole step, which runs without them).
struct PhaseTimes {
  double upload = 0;  // host batch to the device (CUDA only; zero on the CPU, where there is no copy)
  double forward = 0;
  double loss = 0;
  double backward = 0;
  double optimizer = 0;  // gradient norm, the step's decision (clipping factor) and Adam's update
};

// The engine's counts over one training step as the trainer runs it (without the benchmark's own
// synchronisation that ends each timed step), averaged over the timed steps.
struct StepCounts {
  double host_reads = 0;
  double host_syncs = 0;
  double kernel_launches = 0;
  double library_calls = 0;
  double bf16_library_calls = 0;  // of the library calls, those on bfloat16 data (tensor cores)
  double device_operations = 0;
  double device_mallocs = 0;
  double graph_launches = 0;  // CUDA graph replays (--cuda-graphs), each standing for a step's kernels
};

struct UnetBenchResult {
  Timing train_step;    // one whole training step
  PhaseTimes phases;    // the same step, phase by phase
  StepCounts per_step;  // engine counters per whole training step
  Timing infer;         // one inference batch (infer_batch images, flip TTA when asked)
  int64_t infer_batch = 0;
  double mean_loss = 0;  // the mean loss of every training step run (a sanity check: finite)
  int64_t parameters = 0;
  // Training's peak bytes held by tensors (CUDA: the caching allocator's count; CPU: engine/tensor_memory.h's),
  // and, CUDA only, the peak bytes reserved from the driver.
  int64_t peak_bytes = 0;
  int64_t peak_reserved_bytes = 0;
  int64_t forward_held_bytes = 0;  // what a training forward pass leaves held for backward (the logits included)
  std::vector<OpBytes> forward_held_by_op;  // the same, by the op that allocated it (--held-by-op)
  int64_t peak_rss_bytes = 0;  // the process's peak resident memory (getrusage) at the end of the run
  HostMemoryStats host_cache;  // the host allocator's cache over the whole run (engine/host_allocator.h)
  // Floating-point operations (models/registry.h): one image's forward; a training step of the batch by
  // the 3x-forward convention; an inference batch (1 or 2 forwards per image), in TFLOP.
  int64_t flops_per_image_forward = 0;
  double train_step_tflop = 0;
  double infer_tflop = 0;

  double train_tflops() const { return train_step_tflop / train_step.median; }
  double infer_tflops() const { return infer_tflop / infer.median; }
  double infer_images_per_s() const { return static_cast<double>(infer_batch) / infer.median; }
};

UnetBenchResult run_unet_bench(const UnetBenchOptions& options);

// "name<TAB>d0,d1,...<TAB>numel" per state-dict entry of a freshly built model, in PyTorch's
// state_dict() order (the format of bench/reference/pleura_unets.py --dump-parameters), then the model's
// state-dict rules from the registry, "#alias FROM TO" and "#optional KEY" lines, so that
// bench/reference/compare_state_dicts.py can check the PyTorch baseline has the same parameters as Pleura
// (ctest bench.pytorch_baseline, tests/bench/pytorch_names.sh).
std::string state_dict_listing(const std::string& model);

// The tool bench_unet (run by tools/runner.h; its main is generated by bench/CMakeLists.txt): runs, prints
// a table and, with --json, a last line of JSON; with --state-dict, prints state_dict_listing and stops.
tools::Tool bench_unet_tool();

}  // namespace pleura
