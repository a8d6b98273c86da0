// run_unet_bench and the tool bench_unet (unet_bench.h).
#include "bench/unet_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "engine/parallel.h"
#include "engine/autograd.h"
#include "engine/cuda_runtime.h"
#include "engine/ops/combo_loss.h"
#include "engine/random.h"
#include "models/registry.h"
#include "train/optimizer.h"

namespace pleura {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Wall seconds of fn, waiting for the GPU's queue before reading the clock.
template <class Fn>
double timed(Device device, Fn&& fn) {
  auto t0 = std::chrono::steady_clock::now();
  fn();
  if (device.is_cuda()) cuda::synchronize(device.index);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

UnetBenchResult run_unet_bench(const UnetBenchOptions& o) {
  PLEURA_CHECK(o.batch >= 1 && o.steps >= 1 && o.warmup >= 0, "[bench_unet] batch ", o.batch, ", steps ", o.steps,
               " and warmup ", o.warmup, " must be >= 1, >= 1 and >= 0");
  auto model = make_model(o.model, 1);
  model->to(o.device);
  Rng rng(2);
  Tensor x = rand_uniform({o.batch, 3, o.size, o.size}, rng, 0.0, 1.0, DType::kFloat32, o.device);
  // Sparse binary targets, like pneumothorax masks.
  std::vector<double> t(static_cast<size_t>(o.batch * o.size * o.size));
  for (double& v : t) v = rng.uniform() < 0.1 ? 1.0 : 0.0;
  Tensor target = Tensor::from_vector(t, {o.batch, 1, o.size, o.size}).to(o.device);
  Adam adam(model->parameters(), {.lr = 1e-4, .weight_decay = 5e-6});
  UnetBenchResult r;
  r.parameters = model->num_parameters();

  model->train();
  std::vector<double> train_times;
  for (int64_t step = 0; step < o.warmup + o.steps; ++step) {
    double s = timed(o.device, [&] {
      model->zero_grad();
      Tensor loss = combo_loss(model->forward(x), target, {.w_bce = 3, .w_dice = 1, .w_focal = 4});
      loss.backward();
      adam.step(clip_factor(grad_norm(model->parameters()), 0.1));
      r.final_loss = loss.item();
    });
    if (step >= o.warmup) train_times.push_back(s);
  }
  model->eval();
  std::vector<double> forward_times;
  for (int64_t step = 0; step < o.warmup + o.steps; ++step) {
    NoGradGuard no_grad;
    double s = timed(o.device, [&] { model->forward(x); });
    if (step >= o.warmup) forward_times.push_back(s);
  }
  r.train_step_s = median(train_times);
  r.forward_s = median(forward_times);
  if (o.device.is_cuda()) r.peak_bytes = static_cast<int64_t>(cuda::memory_stats(o.device.index).peak_bytes_in_use);
  PLEURA_CHECK(std::isfinite(r.final_loss), "[bench_unet] the loss is not finite: ", r.final_loss);
  return r;
}

namespace {

const char* const kSummary =
    "Times a training step (forward, combo loss 3-1-4, backward, clipping to 0.1, Adam) and an\n"
    "eval forward of a UNet on random data, median over the timed steps after the warm-up ones.";

struct BenchArgs {
  UnetBenchOptions options;
  std::string device = "cpu";
  int threads = 0;  // 0: the pool's default
  bool json = false;
};

void declare(CLI::App& app, BenchArgs& a) {
  using tools::int_in;
  UnetBenchOptions& o = a.options;
  app.add_option("--model", o.model, "albunet, resnet50_unet or scse_unet (default albunet)")->type_name("NAME");
  app.add_option("--size", o.size, "input height and width (default 256)")->type_name("S")->check(int_in(32, 4096));
  app.add_option("--batch", o.batch, "batch size (default 2)")->type_name("B")->check(int_in(1, 1024));
  app.add_option("--steps", o.steps, "timed steps (default 5)")->type_name("N")->check(int_in(1, 100000));
  app.add_option("--warmup", o.warmup, "untimed steps before them (default 1)")
      ->type_name("W")
      ->check(int_in(0, 100000));
  app.add_option("--device", a.device, "cpu, cuda or cuda:N (default cpu)")->type_name("DEV");
  app.add_option("--threads", a.threads, "CPU threads (default: all cores)")->type_name("T")->check(int_in(1, 1024));
  app.add_flag("--json", a.json, "end with one JSON line of the results");
}

void print_json(std::ostream& out, const UnetBenchOptions& o, const UnetBenchResult& r) {
  nlohmann::ordered_json j;
  j["model"] = o.model;
  j["size"] = o.size;
  j["batch"] = o.batch;
  j["device"] = o.device.str();
  j["threads"] = num_threads();
  j["steps"] = o.steps;
  j["train_step_s"] = r.train_step_s;
  j["forward_s"] = r.forward_s;
  j["final_loss"] = r.final_loss;
  j["flops_per_image_forward"] = r.flops_per_image_forward;
  j["train_step_tflop"] = r.train_step_tflop;
  j["train_step_tflop_per_s"] = r.train_step_tflop / r.train_step_s;
  if (o.device.is_cuda()) j["peak_bytes"] = r.peak_bytes;
  out << j.dump() << "\n";
}

void run(const BenchArgs& a, const tools::ToolContext& context) {
  UnetBenchOptions o = a.options;
  o.device = tools::as_usage([&] { return Device::parse(a.device); });
  if (a.threads > 0) set_num_threads(a.threads);
  const UnetBenchResult r = run_unet_bench(o);
  std::ostream& out = context.out;
  out << "bench_unet: " << o.model << " (" << r.parameters << " parameters), " << o.size << "x" << o.size << ", batch "
      << o.batch << ", " << o.device.str()
      << (o.device.is_cpu() ? ", " + std::to_string(num_threads()) + " threads" : "")
      << "\n  training step: " << r.train_step_s << " s (median of " << o.steps << "), " << r.train_step_tflop
      << " TFLOP (3x forward), " << r.train_step_tflop / r.train_step_s << " TFLOP/s\n  eval forward:  "
      << r.forward_s << " s\n";
  if (o.device.is_cuda()) out << "  peak tensor memory: " << r.peak_bytes / 1048576.0 << " MiB\n";
  if (a.json) print_json(out, o, r);
}

}  // namespace

tools::Tool bench_unet_tool() {
  return tools::make_tool("bench_unet", kSummary, tools::OnStop::kExitAtOnce, declare, run);
}

}  // namespace pleura
