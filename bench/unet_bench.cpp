// run_unet_bench, state_dict_listing and the tool bench_unet (unet_bench.h).
#include "bench/unet_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cpu/blas.h"
#include "engine/fast_convolutions.h"
#include "cpu/conv_algorithm.h"
#include "cpu/conv2d_winograd_f4.h"
#include "engine/alloc_context.h"
#include "engine/autograd.h"
#include "engine/captured_function.h"
#include "engine/cuda_runtime.h"
#include "engine/host_allocator.h"
#include "engine/ops/combo_loss.h"
#include "engine/parallel.h"
#include "engine/random.h"
#include "engine/tensor_memory.h"
#include "infer/predict.h"
#include "layers/conv_bn.h"
#include "models/registry.h"
#include "train/captured_steps.h"
#include "train/optimizer.h"
#include "train/train_config.h"

namespace pleura {

namespace {

Timing summarise(std::vector<double> seconds) {
  std::sort(seconds.begin(), seconds.end());
  return {seconds[seconds.size() / 2], seconds.front(), seconds.back()};
}

double median(std::vector<double> seconds) { return summarise(std::move(seconds)).median; }

void wait_for_device(Device device) {
  if (device.is_cuda()) cuda::synchronize(device.index);
}

// Wall seconds of fn, waiting for the GPU's queue before reading the clock.
template <class Fn>
double timed(Device device, Fn&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  wait_for_device(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int64_t ledger_interval(const UnetBenchOptions& o) {
  return o.log_every > 0 ? o.log_every : default_log_interval(o.device);
}

// What one benchmark run holds: the model, its optimizer and the host batches.
struct Bench {
  const UnetBenchOptions& o;
  std::shared_ptr<Model> model{};
  std::unique_ptr<Adam> adam{};
  Tensor x_host{};       // [batch, 3, S, S] in [0, 1)
  Tensor target_host{};  // [batch, 1, S, S], sparse 0/1 like pneumothorax masks
  Tensor infer_host{};   // [infer_batch, 3, S, S]
  Tensor ledger{};       // the trainer's step ledger (engine/ops/step_ledger.h)
  int64_t steps_run = 0;
  int64_t log_every = 1;
  std::unique_ptr<CapturedSteps> graph_steps{};  // --cuda-graphs: the step's device work as a CUDA graph
};

Tensor sparse_mask(int64_t batch, int64_t size, Rng& rng) {
  std::vector<double> t(static_cast<size_t>(batch * size * size));
  for (double& v : t) v = rng.uniform() < 0.1 ? 1.0 : 0.0;
  return Tensor::from_vector(t, {batch, 1, size, size});
}

Tensor device_step(Bench& b, const Tensor& x, const Tensor& target);

void set_up(Bench& b, int64_t infer_batch) {
  const UnetBenchOptions& o = b.o;
  // --infer-only measures what infer_unet does, with its host cache policy (infer/infer_run.cpp).
  if (o.infer_only) set_host_cache_policy(HostCachePolicy::kWithinLivePeak);
  b.model = make_model(o.model, 1);
  b.model->to(o.device);
  Rng rng(2);
  if (!o.infer_only) {
    b.adam = std::make_unique<Adam>(b.model->parameters(), AdamOptions{.lr = 1e-4, .weight_decay = 5e-6});
    b.ledger = make_step_ledger(StepLedger{}, o.device);
    b.log_every = ledger_interval(o);
    b.x_host = rand_uniform({o.batch, 3, o.size, o.size}, rng, 0.0, 1.0, DType::kFloat32, Device::cpu());
    b.target_host = sparse_mask(o.batch, o.size, rng);
    if (o.cuda_graphs)
      b.graph_steps = std::make_unique<CapturedSteps>(
          *b.model, [&b](const Tensor& x, const Tensor& target) { return device_step(b, x, target); },
          [](const std::string& note) { std::cerr << "bench_unet: " << note << "\n"; });
  }
  b.infer_host = rand_uniform({infer_batch, 3, o.size, o.size}, rng, 0.0, 1.0, DType::kFloat32, Device::cpu());
}

Tensor step_loss(const Tensor& logits, const Tensor& target) {
  // As the trainer computes it: on the device, no host read.
  return combo_loss(logits, target, {.w_bce = 3, .w_dice = 1, .w_focal = 4, .check_on_host = false});
}

// The optimizer step as the trainer takes it (train/train_epoch.cpp): decided on the device by the ledger,
// clipping to 0.1.
void optimizer_step(Bench& b, const Tensor& loss) {
  decide_and_step(*b.adam, b.ledger, loss.detach(), {.max_norm = 0.1, .max_skipped_in_a_row = 1e9});
}

// The ledger is read back every log_every steps, as the trainer logs.
void count_step(Bench& b) {
  if (++b.steps_run % b.log_every == 0) read_step_ledger(b.ledger);
}

// A training step's device work as the trainer queues it: no host read, gradients dropped at the end.
Tensor device_step(Bench& b, const Tensor& x, const Tensor& target) {
  Tensor loss = step_loss(b.model->forward(x), target);
  loss.backward();
  optimizer_step(b, loss);
  b.model->zero_grad();
  return loss.detach();
}

// One training step as the trainer runs it (--cuda-graphs: as with train_unet's [run] cuda_graphs).
void whole_step(Bench& b) {
  const Tensor x = upload(b.x_host, b.o.device);
  const Tensor target = upload(b.target_host, b.o.device);
  if (b.graph_steps)
    (*b.graph_steps)(x, target);
  else
    device_step(b, x, target);
  count_step(b);
}

void add(StepCounts& sum, const EngineCounters& c) {
  sum.host_reads += static_cast<double>(c.host_reads);
  sum.host_syncs += static_cast<double>(c.host_syncs());
  sum.kernel_launches += static_cast<double>(c.kernel_launches);
  sum.library_calls += static_cast<double>(c.library_calls);
  sum.bf16_library_calls += static_cast<double>(c.bf16_library_calls);
  sum.device_operations += static_cast<double>(c.device_operations());
  sum.device_mallocs += static_cast<double>(c.device_mallocs);
  sum.graph_launches += static_cast<double>(c.graph_launches);
}

StepCounts divided(StepCounts s, double n) {
  for (double* v : {&s.host_reads, &s.host_syncs, &s.kernel_launches, &s.library_calls, &s.bf16_library_calls,
                    &s.device_operations, &s.device_mallocs, &s.graph_launches})
    *v /= n;
  return s;
}

// The timed whole steps: their times and the engine's counts per step (read before the benchmark's own
// synchronisation).
void time_whole_steps(Bench& b, UnetBenchResult& r) {
  for (int64_t i = 0; i < b.o.warmup; ++i) timed(b.o.device, [&] { whole_step(b); });
  std::vector<double> seconds;
  StepCounts sum;
  for (int64_t i = 0; i < b.o.steps; ++i) {
    seconds.push_back(timed(b.o.device, [&] {
      const EngineCounters before = engine_counters();
      whole_step(b);
      add(sum, counters_between(before, engine_counters()));
    }));
  }
  r.train_step = summarise(seconds);
  r.per_step = divided(sum, static_cast<double>(b.o.steps));
}

// The bytes held by tensors on d now (the caching allocator's count on CUDA).
size_t tensor_bytes_in_use(Device d) {
  return d.is_cuda() ? cuda::memory_stats(d.index).bytes_in_use : cpu_tensor_memory().bytes_in_use;
}

// The same steps with a synchronisation at each phase boundary: each phase's median time; and what the forward
// pass leaves held for backward.
void time_phases(Bench& b, UnetBenchResult& r) {
  const Device d = b.o.device;
  std::vector<double> upload_s, forward_s, loss_s, backward_s, optimizer_s;
  for (int64_t i = 0; i < b.o.steps; ++i) {
    b.model->zero_grad();
    wait_for_device(d);
    Tensor x, target, logits, loss;
    upload_s.push_back(d.is_cpu() ? 0.0 : timed(d, [&] {
      x = upload(b.x_host, d);
      target = upload(b.target_host, d);
    }));
    if (d.is_cpu()) x = b.x_host, target = b.target_host;
    const size_t before_forward = tensor_bytes_in_use(d);
    const bool ledger = b.o.held_by_op && i == b.o.steps - 1;  // the ledger's lock is off the other steps' times
    if (ledger) set_tensor_memory_by_op(true);
    forward_s.push_back(timed(d, [&] { logits = b.model->forward(x); }));
    r.forward_held_bytes = static_cast<int64_t>(tensor_bytes_in_use(d) - before_forward);
    if (ledger) {
      r.forward_held_by_op = tensor_memory_by_op(d);
      set_tensor_memory_by_op(false);
    }
    loss_s.push_back(timed(d, [&] { loss = step_loss(logits, target); }));
    backward_s.push_back(timed(d, [&] { loss.backward(); }));
    optimizer_s.push_back(timed(d, [&] {
      optimizer_step(b, loss);
      count_step(b);
    }));
  }
  r.phases = {median(upload_s), median(forward_s), median(loss_s), median(backward_s), median(optimizer_s)};
}

// Inference as infer_unet computes one batch: upload, eval forward, sigmoid, flip TTA, back to the host.
void time_inference(Bench& b, UnetBenchResult& r) {
  b.model->eval();
  if (b.o.fold_bn) fold_batch_norms(*b.model);
  NoGradGuard no_grad;
  const FastInferenceConvolutionsScope winograd_scope(!b.o.exact_convolutions);
  // --cuda-graphs: the device work as infer_unet --cuda-graphs runs it (one graph per batch shape, captured
  // at the second call: give --warmup 2 or more to time replays only).
  CapturedFunction graph([&](const std::vector<Tensor>& in) {
    return infer::device_probabilities(*b.model, in[0], b.o.flip);
  });
  std::vector<double> seconds;
  for (int64_t i = 0; i < b.o.warmup + b.o.steps; ++i) {
    const double s = timed(b.o.device, [&] {
      const HostPlannedPass pass;  // as CheckpointEnsemble::predict: the warm-up records, the steps replay
      const Tensor x = upload(b.infer_host, b.o.device);
      if (b.o.cuda_graphs) {
        infer::mean_on_host(graph({x}));
      } else {
        infer::checkpoint_probabilities(*b.model, x, b.o.flip);
      }
    });
    if (i >= b.o.warmup) seconds.push_back(s);
  }
  r.infer = summarise(seconds);
}

std::string workload(const UnetBenchOptions& o, const char* what, int64_t batch) {
  std::ostringstream s;
  s << "bench_unet: " << what << " " << o.model << " at " << o.size << "x" << o.size << ", batch " << batch;
  return s.str();
}

void time_training(Bench& b, UnetBenchResult& r) {
  set_workload(workload(b.o, "training", b.o.batch));
  b.model->train();
  time_whole_steps(b, r);
  time_phases(b, r);
  const StepLedger l = read_step_ledger(b.ledger);
  r.mean_loss = l.loss_sum / l.loss_count;
  PLEURA_CHECK(l.skipped_total == 0 && std::isfinite(r.mean_loss), "[bench_unet] ", l.skipped_total,
               " step(s) had a non-finite loss or gradient; mean loss ", r.mean_loss);
}

int64_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // kilobytes on Linux
}

void count_flops(const UnetBenchOptions& o, UnetBenchResult& r) {
  r.flops_per_image_forward = model_flops(o.model, o.size, o.size);
  r.train_step_tflop = static_cast<double>(train_step_flops(o.model, o.size, o.size, o.batch)) / 1e12;
  const int64_t forwards = r.infer_batch * (o.flip ? 2 : 1);
  r.infer_tflop = static_cast<double>(forwards) * static_cast<double>(r.flops_per_image_forward) / 1e12;
}

}  // namespace

UnetBenchResult run_unet_bench(const UnetBenchOptions& o) {
  PLEURA_CHECK(o.batch >= 1 && o.steps >= 1 && o.warmup >= 0 && o.infer_batch >= 0, "[bench_unet] batch ",
               o.batch, ", steps ", o.steps, ", warmup ", o.warmup, " and infer batch ", o.infer_batch,
               " must be >= 1, >= 1, >= 0 and >= 0");
  const PrecisionScope precision_scope(o.precision);
  const ConvAlgorithmChoiceScope algorithm_scope(o.cudnn_algorithms);
  UnetBenchResult r;
  r.infer_batch = o.infer_batch > 0 ? o.infer_batch : o.batch;
  count_flops(o, r);  // first: it also checks the model name and that the size suits it
  Bench b{o};
  set_up(b, r.infer_batch);
  r.parameters = b.model->num_parameters();
  const int cuda = o.device.is_cuda() ? o.device.index : -1;
  if (cuda >= 0) {
    cuda::reset_peak_memory(cuda);
  } else {
    reset_cpu_tensor_peak();
  }

  if (!o.infer_only) time_training(b, r);
  if (cuda >= 0) {
    const cuda::MemoryStats m = cuda::memory_stats(cuda);
    r.peak_bytes = static_cast<int64_t>(m.peak_bytes_in_use);
    r.peak_reserved_bytes = static_cast<int64_t>(m.peak_bytes_reserved);
  } else {
    r.peak_bytes = static_cast<int64_t>(cpu_tensor_memory().peak_bytes_in_use);
  }

  set_workload(workload(o, o.flip ? "flip-TTA inference of" : "inference of", r.infer_batch));
  time_inference(b, r);
  set_workload("");
  r.peak_rss_bytes = peak_resident_bytes();
  r.host_cache = host_memory_stats();
  return r;
}

std::string state_dict_listing(const std::string& name) {
  std::ostringstream out;
  const std::shared_ptr<Model> model = make_model(name);  // outlives the slots that point into it
  for (const auto& [key, tensor] : model->state_dict_slots()) {
    const std::vector<int64_t> dims = tensor->shape().vec();
    out << key << '\t';
    for (size_t i = 0; i < dims.size(); ++i) out << (i ? "," : "") << dims[i];
    out << '\t' << tensor->numel() << '\n';
  }
  const StateDictRules& rules = model_spec(name).state_dict;
  for (const PrefixRename& alias : rules.aliases) out << "#alias " << alias.from << ' ' << alias.to << '\n';
  for (const OptionalKey& key : rules.optional) out << "#optional " << key.key << '\n';
  return out.str();
}

namespace {

const char* const kSummary =
    "Times a training step of a UNet on random data (upload, forward, combo loss 3-1-4, backward,\n"
    "clipping to 0.1, Adam), whole and phase by phase, with the engine's counters per step, and an\n"
    "inference batch (sigmoid, optional flip TTA; --infer-only: that alone), and the process's peak resident\n"
    "memory; medians over the timed steps after the warm-up ones.";

struct BenchArgs {
  UnetBenchOptions options;
  std::string device = "cpu";
  std::string precision = "fp32";
  std::string cudnn_algorithms = "measured";
  int threads = 0;  // 0: the pool's default
  bool json = false;
  bool state_dict = false;
  std::string winograd_kernel;  // empty: the CPU's default
};

void declare(CLI::App& app, BenchArgs& a) {
  using tools::int_in;
  UnetBenchOptions& o = a.options;
  app.add_option("--model", o.model, "albunet, resnet50_unet or scse_unet (default albunet)")->type_name("NAME");
  app.add_option("--size", o.size, "input height and width (default 256)")->type_name("S")->check(int_in(32, 4096));
  app.add_option("--batch", o.batch, "training batch size (default 2)")->type_name("B")->check(int_in(1, 1024));
  app.add_option("--infer-batch", o.infer_batch, "inference batch size (default: the training batch)")
      ->type_name("B")
      ->check(int_in(1, 1024));
  app.add_flag("--flip", o.flip, "inference with horizontal-flip TTA, as infer_unet --flip");
  app.add_flag("--infer-only", o.infer_only, "time the inference batch only (no training step)");
  app.add_flag("!--no-fold", o.fold_bn,
               "inference with each batch norm after its convolution, not folded into it as infer_unet does");
  app.add_flag("--cuda-graphs", o.cuda_graphs,
               "the training step's and inference's device work as CUDA graphs, as train_unet's [run] cuda_graphs and "
               "infer_unet --cuda-graphs (GPU only; captured at the second step: give --warmup 2 or more)");
  app.add_flag("--exact-convolutions", o.exact_convolutions,
               "inference without the CPU's Winograd F(4x4,3x3) convolutions, as infer_unet --exact-convolutions");
  app.add_option("--steps", o.steps, "timed steps (default 5)")->type_name("N")->check(int_in(1, 100000));
  app.add_option("--warmup", o.warmup, "untimed steps before them (default 1)")
      ->type_name("W")
      ->check(int_in(0, 100000));
  app.add_option("--log-every", o.log_every,
                 "steps between readings of the loss and skipped steps, as train_unet's [run] log_every "
                 "(default: 1 on the CPU, 20 on CUDA)")
      ->type_name("N")
      ->check(int_in(1, 1000000));
  app.add_flag("--held-by-op", o.held_by_op,
               "list what the last training forward pass leaves held for backward, by the op that allocated it");
  app.add_option("--device", a.device, "cpu, cuda or cuda:N (default cpu)")->type_name("DEV");
  app.add_option("--precision", a.precision, "fp32 (default) or bf16: convolutions in bfloat16")->type_name("P");
  app.add_option("--cudnn-algorithms", a.cudnn_algorithms,
                 "measured (default: cuDNN's algorithms timed in the warm-up, as cudnn.benchmark) or reproducible "
                 "(cuDNN's ranking), as train_unet's [run] cudnn_algorithms")
      ->type_name("C");
  app.add_option("--threads", a.threads, "CPU threads (default: all cores)")->type_name("T")->check(int_in(1, 1024));
  app.add_option("--winograd-kernel", a.winograd_kernel,
                 "avx2 or avx512: the Winograd F(4x4,3x3) product kernel of CPU inference (default: the widest "
                 "this CPU has)")
      ->type_name("K")
      ->check(CLI::IsMember({"avx2", "avx512"}));
  app.add_flag("--json", a.json, "end with one JSON line of the results");
  app.add_flag("--state-dict", a.state_dict,
               "print the model's state dict (name, shape, element count per line) and stop");
}

double ms(double seconds) { return seconds * 1e3; }
double mib(int64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

void print_json(std::ostream& out, const UnetBenchOptions& o, const UnetBenchResult& r) {
  nlohmann::ordered_json j;
  j["model"] = o.model;
  j["size"] = o.size;
  j["batch"] = o.batch;
  j["infer_batch"] = r.infer_batch;
  j["flip"] = o.flip;
  j["device"] = o.device.str();
  j["precision"] = precision_name(o.precision);
  j["threads"] = num_threads();
  j["blas_kernels"] = cpu::blas_kernel_set();
  j["cpu_conv"] = cpu::conv_algorithm_name(cpu::conv_algorithm());
  j["winograd_kernel"] = cpu::winograd_f4_kernel_name(cpu::winograd_f4_kernel());
  j["steps"] = o.steps;
  j["warmup"] = o.warmup;
  j["parameters"] = r.parameters;
  j["infer_only"] = o.infer_only;
  j["fold_bn"] = o.fold_bn;
  j["exact_convolutions"] = o.exact_convolutions;
  j["cuda_graphs"] = o.cuda_graphs;
  j["cudnn_algorithms"] = conv_algorithm_choice_name(o.cudnn_algorithms);
  j["peak_rss_mib"] = mib(r.peak_rss_bytes);
  j["host_cache"] = {{"hits", r.host_cache.cache_hits},
                     {"planned_hits", r.host_cache.planned_hits},
                     {"misses", r.host_cache.cache_misses},
                     {"released_mib", mib(static_cast<int64_t>(r.host_cache.bytes_released))}};
  j["train_step_ms"] = ms(r.train_step.median);
  j["train_step_ms_min"] = ms(r.train_step.min);
  j["train_step_ms_max"] = ms(r.train_step.max);
  j["phase_ms"] = {{"upload", ms(r.phases.upload)},     {"forward", ms(r.phases.forward)},
                   {"loss", ms(r.phases.loss)},         {"backward", ms(r.phases.backward)},
                   {"optimizer", ms(r.phases.optimizer)}};
  j["infer_ms"] = ms(r.infer.median);
  j["infer_ms_min"] = ms(r.infer.min);
  j["infer_ms_max"] = ms(r.infer.max);
  j["infer_images_per_s"] = r.infer_images_per_s();
  j["mean_loss"] = r.mean_loss;
  j["log_every"] = ledger_interval(o);
  j["flops_per_image_forward"] = r.flops_per_image_forward;
  j["train_step_tflop"] = r.train_step_tflop;
  j["train_tflops"] = r.train_tflops();
  j["infer_tflops"] = r.infer_tflops();
  j["host_reads_per_step"] = r.per_step.host_reads;
  j["host_syncs_per_step"] = r.per_step.host_syncs;
  j["kernel_launches_per_step"] = r.per_step.kernel_launches;
  j["library_calls_per_step"] = r.per_step.library_calls;
  j["bf16_library_calls_per_step"] = r.per_step.bf16_library_calls;
  j["device_operations_per_step"] = r.per_step.device_operations;
  j["device_mallocs_per_step"] = r.per_step.device_mallocs;
  j["graph_launches_per_step"] = r.per_step.graph_launches;
  if (!o.infer_only) {
    j["peak_mib"] = mib(r.peak_bytes);
    j["forward_held_mib"] = mib(r.forward_held_bytes);
    if (o.held_by_op) {
      nlohmann::ordered_json by_op = nlohmann::ordered_json::object();
      for (const OpBytes& h : r.forward_held_by_op) by_op[h.op] = mib(static_cast<int64_t>(h.bytes));
      j["forward_held_by_op_mib"] = by_op;
    }
  }
  if (o.device.is_cuda()) j["reserved_mib"] = mib(r.peak_reserved_bytes);
  out << j.dump() << "\n";
}

void print_training(std::ostream& out, const UnetBenchOptions& o, const UnetBenchResult& r) {
  out << "  training step: " << ms(r.train_step.median) << " ms (median of " << o.steps << ", "
      << ms(r.train_step.min) << " to " << ms(r.train_step.max) << "), " << r.train_step_tflop
      << " TFLOP (3x forward), " << r.train_tflops() << " TFLOP/s\n"
      << "    phases (ms): upload " << ms(r.phases.upload) << ", forward " << ms(r.phases.forward) << ", loss "
      << ms(r.phases.loss) << ", backward " << ms(r.phases.backward) << ", optimizer " << ms(r.phases.optimizer)
      << "\n    per step: " << r.per_step.host_reads << " host reads, " << r.per_step.host_syncs
      << " host syncs, " << r.per_step.kernel_launches << " kernel launches, " << r.per_step.library_calls
      << " library calls (" << r.per_step.bf16_library_calls << " on bfloat16 data), " << r.per_step.graph_launches
      << " CUDA graph launches\n";
}

void print_table(std::ostream& out, const UnetBenchOptions& o, const UnetBenchResult& r) {
  out << "bench_unet: " << o.model << " (" << r.parameters << " parameters), " << o.size << "x" << o.size
      << ", batch " << o.batch << ", " << o.device.str() << ", " << precision_name(o.precision)
      << (o.device.is_cpu() ? ", " + std::to_string(num_threads()) + " threads, OpenBLAS " + cpu::blas_kernel_set() +
                                  " kernels, convolutions " + cpu::conv_algorithm_name(cpu::conv_algorithm()) +
                                  " (Winograd product kernel " + cpu::winograd_f4_kernel_name(cpu::winograd_f4_kernel()) +
                                  ")"
                            : "")
      << "\n";
  if (!o.infer_only) print_training(out, o, r);
  out << "  inference (batch " << r.infer_batch << (o.flip ? ", flip TTA" : "") << "): " << ms(r.infer.median)
      << " ms, " << r.infer_images_per_s() << " images/s, " << r.infer_tflops() << " TFLOP/s\n"
      << "  peak resident memory of the process: " << mib(r.peak_rss_bytes) << " MiB; host cache: "
      << r.host_cache.cache_hits << " hits (" << r.host_cache.planned_hits << " planned), "
      << r.host_cache.cache_misses << " misses, "
      << mib(static_cast<int64_t>(r.host_cache.bytes_released)) << " MiB given back to make room\n";
  if (!o.infer_only) {
    out << "  peak tensor memory in training: " << mib(r.peak_bytes) << " MiB (" << mib(r.forward_held_bytes)
        << " MiB held by the forward pass for backward)";
    if (o.device.is_cuda()) out << ", reserved " << mib(r.peak_reserved_bytes) << " MiB";
    out << "\n";
    if (o.held_by_op) out << "  held by the forward pass for backward, by op (MiB):";
    for (const OpBytes& h : r.forward_held_by_op)
      out << " " << h.op << " " << mib(static_cast<int64_t>(h.bytes)) << ";";
    if (o.held_by_op) out << "\n";
  }
}

void run(const BenchArgs& a, const tools::ToolContext& context) {
  if (a.state_dict) {
    context.out << state_dict_listing(a.options.model);
    return;
  }
  UnetBenchOptions o = a.options;
  o.device = tools::as_usage([&] { return Device::parse(a.device); });
  o.precision = tools::as_usage([&] { return parse_precision(a.precision, "--precision"); });
  o.cudnn_algorithms =
      tools::as_usage([&] { return parse_conv_algorithm_choice(a.cudnn_algorithms, "--cudnn-algorithms"); });
  if (o.cuda_graphs && !o.device.is_cuda()) throw tools::UsageError("--cuda-graphs needs --device cuda (or cuda:N)");
  if (a.threads > 0) set_num_threads(a.threads);
  if (!a.winograd_kernel.empty())
    tools::as_usage([&] {
      cpu::set_winograd_f4_kernel(a.winograd_kernel == "avx512" ? cpu::WinogradF4Kernel::kAvx512
                                                                : cpu::WinogradF4Kernel::kAvx2);
    });
  const UnetBenchResult r = run_unet_bench(o);
  print_table(context.out, o, r);
  if (a.json) print_json(context.out, o, r);
}

}  // namespace

tools::Tool bench_unet_tool() {
  return tools::make_tool("bench_unet", kSummary, tools::OnStop::kExitAtOnce, declare, run);
}

}  // namespace pleura
