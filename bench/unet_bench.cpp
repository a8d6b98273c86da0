// run_unet_bench and bench_unet_main (unet_bench.h).
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
#include "models/model.h"
#include "data/cli_args.h"
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

int bench_unet_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  using data::UsageError;
  data::ArgParser parser("bench_unet",
                         "Times a training step (forward, combo loss 3-1-4, backward, clipping to 0.1, Adam) and an\n"
                         "eval forward of a UNet on random data, median over the timed steps after the warm-up ones.");
  parser.add_value("model", "NAME", "albunet, resnet50_unet or scse_unet (default albunet)");
  parser.add_value("size", "S", "input height and width (default 256)");
  parser.add_value("batch", "B", "batch size (default 2)");
  parser.add_value("steps", "N", "timed steps (default 5)");
  parser.add_value("warmup", "W", "untimed steps before them (default 1)");
  parser.add_value("device", "DEV", "cpu, cuda or cuda:N (default cpu)");
  parser.add_value("threads", "T", "CPU threads (default: all cores)");
  parser.add_flag("json", "end with one JSON line of the results");
  UnetBenchOptions o;
  try {
    parser.parse(args);
    if (parser.help_requested()) {
      out << parser.usage();
      return 0;
    }
    o.model = parser.value("model", o.model);
    o.size = parser.int_value("size", 32, 4096, o.size);
    o.batch = parser.int_value("batch", 1, 1024, o.batch);
    o.steps = parser.int_value("steps", 1, 100000, o.steps);
    o.warmup = parser.int_value("warmup", 0, 100000, o.warmup);
    o.device = Device::parse(parser.value("device", "cpu"));
    if (parser.has("threads")) set_num_threads(static_cast<int>(parser.int_value("threads", 1, 1024, 1)));
  } catch (const Error& e) {
    err << "bench_unet: " << e.what() << "\n(run bench_unet --help for usage)\n";
    return 2;
  }
  try {
    UnetBenchResult r = run_unet_bench(o);
    out << "bench_unet: " << o.model << " (" << r.parameters << " parameters), " << o.size << "x" << o.size << ", batch "
        << o.batch << ", " << o.device.str() << (o.device.is_cpu() ? ", " + std::to_string(num_threads()) + " threads" : "")
        << "\n  training step: " << r.train_step_s << " s (median of " << o.steps << ")\n  eval forward:  " << r.forward_s
        << " s\n";
    if (o.device.is_cuda()) out << "  peak tensor memory: " << r.peak_bytes / 1048576.0 << " MiB\n";
    if (parser.has("json")) {
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
      if (o.device.is_cuda()) j["peak_bytes"] = r.peak_bytes;
      out << j.dump() << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    err << "bench_unet: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pleura
