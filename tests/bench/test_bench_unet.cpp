// Tests of bench_unet (bench/unet_bench.h) through the runner (tools/runner.h): one small run of each
// model ends with a JSON line carrying the timings and the FLOP counts, --infer-only, and bad arguments are
// usage errors.
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/unet_bench.h"
#include "models/registry.h"
#include "tests/testing.h"
#include "tests/tools/tools_testing.h"

using namespace pleura;
using namespace pleura::testing;

nlohmann::json last_json_line(const std::string& out) {
  REQUIRE(out.size() > 1);
  CHECK(out.back() == '\n');
  return nlohmann::json::parse(out.substr(out.rfind('\n', out.size() - 2) + 1));
}

TEST_CASE("bench_unet: a small run prints its timings, counts and FLOP rates as JSON") {
  for (const char* model : {"albunet", "resnet50_unet", "scse_unet"}) {
    const ToolRun r = run_tool(bench_unet_tool(), {"--model", model, "--size", "64", "--batch", "2", "--infer-batch",
                                                   "3", "--flip", "--steps", "3", "--warmup", "0", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const nlohmann::json j = last_json_line(r.out);
    CHECK(j.at("model") == model);
    CHECK(j.at("size") == 64);
    CHECK(j.at("batch") == 2);
    CHECK(j.at("infer_batch") == 3);
    CHECK(j.at("flip") == true);
    CHECK(j.at("device") == "cpu");
    CHECK(std::isfinite(j.at("mean_loss").get<double>()));
    CHECK(j.at("log_every").get<int64_t>() == 1);
    const double step_ms = j.at("train_step_ms").get<double>();
    CHECK(j.at("train_step_ms_min").get<double>() <= step_ms);
    CHECK(step_ms <= j.at("train_step_ms_max").get<double>());
    // The CPU has nothing to upload; every other phase takes time.
    const nlohmann::json& phases = j.at("phase_ms");
    CHECK(phases.at("upload").get<double>() == 0.0);
    for (const char* phase : {"forward", "loss", "backward", "optimizer"}) CHECK(phases.at(phase).get<double>() > 0);
    // FLOPs from the registry: a step of batch 2 is 3x two forwards; flip-TTA inference of 3 images is 6.
    const auto flops = static_cast<double>(model_flops(model, 64, 64));
    CHECK(j.at("flops_per_image_forward").get<int64_t>() == model_flops(model, 64, 64));
    CHECK(j.at("train_step_tflop").get<double>() == doctest::Approx(6.0 * flops / 1e12).epsilon(1e-12));
    CHECK(j.at("train_tflops").get<double>() == doctest::Approx(6.0 * flops / 1e12 / (step_ms / 1e3)).epsilon(1e-9));
    const double infer_ms = j.at("infer_ms").get<double>();
    CHECK(j.at("infer_images_per_s").get<double>() == doctest::Approx(3.0 / (infer_ms / 1e3)).epsilon(1e-9));
    CHECK(j.at("infer_tflops").get<double>() == doctest::Approx(6.0 * flops / 1e12 / (infer_ms / 1e3)).epsilon(1e-9));
    // Per step on the CPU: one host read, the step ledger (the loss and skipped steps, logged every step
    // on the CPU by default; on CUDA every 20); the device counts are CUDA's alone; the peak of the CPU's
    // tensors at least the parameters, their gradients and Adam's two moments; nothing reserved from a driver.
    CHECK(j.at("host_reads_per_step").get<double>() == 1.0);
    for (const char* key : {"host_syncs_per_step", "kernel_launches_per_step", "library_calls_per_step",
                            "device_operations_per_step", "device_mallocs_per_step"})
      CHECK(j.at(key).get<double>() == 0.0);
    CHECK(j.at("peak_mib").get<double>() * 1024 * 1024 > 4.0 * 4 * j.at("parameters").get<double>());
    CHECK_FALSE(j.contains("reserved_mib"));
    CHECK(j.at("forward_held_mib").get<double>() > 0.0);
    CHECK(j.at("forward_held_mib").get<double>() < j.at("peak_mib").get<double>());
    CHECK(j.at("peak_rss_mib").get<double>() > 1.0);
    CHECK(j.at("infer_only") == false);
  }
}

TEST_CASE("bench_unet: --log-every reads the step ledger every N steps, as train_unet's [run] log_every") {
  const ToolRun r = run_tool(bench_unet_tool(), {"--model", "albunet", "--size", "64", "--steps", "4", "--warmup", "0",
                                                 "--log-every", "2", "--json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const nlohmann::json j = last_json_line(r.out);
  CHECK(j.at("log_every").get<int64_t>() == 2);
  CHECK(j.at("host_reads_per_step").get<double>() == 0.5);  // steps 2 and 4 of the 4 timed ones
}

TEST_CASE("bench_unet: --precision bf16 runs the step with bfloat16 convolutions") {
  const ToolRun r = run_tool(bench_unet_tool(), {"--model", "scse_unet", "--size", "64", "--steps", "1", "--warmup", "0",
                                                 "--precision", "bf16", "--json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find(", cpu, bf16, ") != std::string::npos);
  const nlohmann::json j = last_json_line(r.out);
  CHECK(j.at("precision") == "bf16");
  CHECK(std::isfinite(j.at("mean_loss").get<double>()));
  CHECK(run_tool(bench_unet_tool(), {"--precision", "fp8"}).code == 2);
  const ToolRun graphs_on_cpu = run_tool(bench_unet_tool(), {"--infer-only", "--cuda-graphs"});
  CHECK(graphs_on_cpu.code == 2);
  CHECK(graphs_on_cpu.err.find("--cuda-graphs needs --device cuda") != std::string::npos);
}

TEST_CASE("bench_unet: --held-by-op lists what the forward pass keeps for backward, by op, adding up to it") {
  const ToolRun r = run_tool(bench_unet_tool(), {"--model", "albunet", "--size", "64", "--steps", "2", "--warmup", "0",
                                                 "--precision", "bf16", "--held-by-op", "--json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("held by the forward pass for backward, by op (MiB): ") != std::string::npos);
  const nlohmann::json j = last_json_line(r.out);
  const nlohmann::json& by_op = j.at("forward_held_by_op_mib");
  // Under bf16 the convolutions' inputs are kept as bfloat16 copies, made inside conv2d_relu.
  CHECK(by_op.contains("conv2d_relu/to_bf16_storage"));
  double total = 0;
  for (const auto& [op, held] : by_op.items()) total += held.get<double>();
  CHECK(total == doctest::Approx(j.at("forward_held_mib").get<double>()).epsilon(0.01));
}

TEST_CASE("bench_unet: --cudnn-algorithms is measured by default, reproducible on request, nothing else") {
  // No effect on the CPU's convolutions; the choice is recorded with the figures it gave.
  const ToolRun measured = run_tool(bench_unet_tool(), {"--size", "64", "--steps", "1", "--warmup", "0", "--infer-only",
                                                        "--json"});
  REQUIRE_MESSAGE(measured.code == 0, measured.err);
  CHECK(last_json_line(measured.out).at("cudnn_algorithms") == "measured");
  const ToolRun reproducible = run_tool(bench_unet_tool(), {"--size", "64", "--steps", "1", "--warmup", "0",
                                                            "--infer-only", "--cudnn-algorithms", "reproducible",
                                                            "--json"});
  REQUIRE_MESSAGE(reproducible.code == 0, reproducible.err);
  CHECK(last_json_line(reproducible.out).at("cudnn_algorithms") == "reproducible");
  const ToolRun bad = run_tool(bench_unet_tool(), {"--cudnn-algorithms", "fastest"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--cudnn-algorithms: cuDNN algorithm choice 'fastest' is not measured or reproducible") !=
        std::string::npos);
}

TEST_CASE("bench_unet: a CUDA training step after warm-up makes no host sync and no device malloc" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // The trainer's step (ledger, combo loss on the device, multi-tensor Adam) with no logging step among
  // the timed ones: every host wait or cudaMalloc left in a step shows here (engine/counters.h).
  // One model, small: the gpu suite runs under the prepared call's 70-second step.
  for (const char* model : {"albunet"}) {
    CAPTURE(model);
    const ToolRun r = run_tool(bench_unet_tool(), {"--model", model, "--size", "64", "--batch", "2", "--steps", "3",
                                                   "--warmup", "2", "--log-every", "1000", "--device", "cuda", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const nlohmann::json j = last_json_line(r.out);
    CHECK(j.at("host_reads_per_step").get<double>() == 0.0);
    CHECK(j.at("host_syncs_per_step").get<double>() == 0.0);
    CHECK(j.at("device_mallocs_per_step").get<double>() == 0.0);
    CHECK(j.at("kernel_launches_per_step").get<double>() > 0.0);
    CHECK(j.at("graph_launches_per_step").get<double>() == 0.0);
  }
}

TEST_CASE("bench_unet: --cuda-graphs replays the training step: one graph launch, no kernel launch per step" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // Captured at the second step (the warm-up's last): the timed steps are replays.
  const ToolRun r = run_tool(bench_unet_tool(), {"--model", "albunet", "--size", "64", "--batch", "2", "--steps", "3",
                                                 "--warmup", "2", "--log-every", "1000", "--cuda-graphs", "--device",
                                                 "cuda", "--json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("CUDA graph not used") == std::string::npos);
  const nlohmann::json j = last_json_line(r.out);
  CHECK(j.at("graph_launches_per_step").get<double>() == 1.0);
  CHECK(j.at("kernel_launches_per_step").get<double>() == 0.0);
  CHECK(j.at("host_syncs_per_step").get<double>() == 0.0);
  CHECK(j.at("device_mallocs_per_step").get<double>() == 0.0);
}

TEST_CASE("bench_unet: --infer-only times the inference batch alone") {
  const ToolRun r = run_tool(bench_unet_tool(), {"--model", "albunet", "--size", "64", "--infer-batch", "1", "--flip",
                                                 "--infer-only", "--steps", "2", "--warmup", "0", "--json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("training step") == std::string::npos);
  CHECK(r.out.find("inference (batch 1, flip TTA): ") != std::string::npos);
  const nlohmann::json j = last_json_line(r.out);
  CHECK(j.at("infer_only") == true);
  CHECK(j.at("train_step_ms").get<double>() == 0.0);
  CHECK(j.at("infer_ms").get<double>() > 0.0);
  CHECK(j.at("peak_rss_mib").get<double>() > 1.0);
}

TEST_CASE("bench_unet: --state-dict lists the model's state dict in PyTorch's order") {
  const ToolRun r = run_tool(bench_unet_tool(), {"--model", "scse_unet", "--state-dict"});
  REQUIRE(r.code == 0);
  auto model = make_model("scse_unet");
  const NamedSlots slots = model->state_dict_slots();
  std::istringstream lines(r.out);
  std::string line;
  size_t i = 0;
  for (; std::getline(lines, line) && line[0] != '#'; ++i) {
    REQUIRE(i < slots.size());
    std::ostringstream dims;
    const std::vector<int64_t> shape = slots[i].second->shape().vec();
    for (size_t k = 0; k < shape.size(); ++k) dims << (k ? "," : "") << shape[k];
    CHECK(line == slots[i].first + "\t" + dims.str() + "\t" + std::to_string(slots[i].second->numel()));
  }
  CHECK(i == slots.size());
  CHECK(r.out.find("bottlenecks.0.seq.0.weight\t384,1408,3,3\t4866048\n") != std::string::npos);  // 384 * 1408 * 9
  // SCSE-UNet has no state-dict rules; AlbuNet's aliases and optional keys follow its slots.
  CHECK(line.empty());
  const ToolRun albunet = run_tool(bench_unet_tool(), {"--model", "albunet", "--state-dict"});
  REQUIRE(albunet.code == 0);
  CHECK(albunet.out.find("\n#alias conv1.0. encoder.conv1.\n") != std::string::npos);
  CHECK(albunet.out.find("\n#optional encoder.fc.weight\n") != std::string::npos);
}

TEST_CASE("bench_unet: bad arguments are usage errors") {
  const ToolRun size = run_tool(bench_unet_tool(), {"--model", "albunet", "--size", "abc"});
  CHECK(size.code == 2);
  CHECK(size.err.find("bench_unet: error: option --size expects an integer in 32..4096, got 'abc'") !=
        std::string::npos);
  const ToolRun device = run_tool(bench_unet_tool(), {"--device", "gpu"});
  CHECK(device.code == 2);
  CHECK(device.err.find("cannot parse device 'gpu'") != std::string::npos);
  const ToolRun model = run_tool(bench_unet_tool(), {"--model", "vgg", "--size", "64", "--steps", "1"});
  CHECK(model.code == 1);
  CHECK(model.err.find("bench_unet: error: ") == 0);
  CHECK(model.err.find("vgg") != std::string::npos);
}
