// Tests of bench_unet (bench/unet_bench.h) through the runner (tools/runner.h): one small run of each
// model ends with a JSON line carrying the timings and the FLOP counts, and bad arguments are usage errors.
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/unet_bench.h"
#include "models/registry.h"
#include "tests/testing.h"
#include "tests/tools/tools_testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("bench_unet: a small run prints its timings as JSON") {
  for (const char* model : {"albunet", "resnet50_unet", "scse_unet"}) {
    const ToolRun r = run_tool(bench_unet_tool(), {"--model", model, "--size", "64", "--batch", "1", "--steps", "1",
                                                   "--warmup", "0", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    REQUIRE(r.out.size() > 1);
    CHECK(r.out.back() == '\n');
    const std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
    const nlohmann::json j = nlohmann::json::parse(last);
    CHECK(j.at("model") == model);
    CHECK(j.at("size") == 64);
    CHECK(j.at("batch") == 1);
    CHECK(j.at("device") == "cpu");
    const double step = j.at("train_step_s").get<double>();
    CHECK(step > 0);
    CHECK(j.at("forward_s").get<double>() > 0);
    CHECK(std::isfinite(j.at("final_loss").get<double>()));
    // One image's forward at 64x64; the step (batch 1) is 3x it; the rate follows the step's time.
    CHECK(j.at("flops_per_image_forward").get<int64_t>() == model_flops(model, 64, 64));
    const double tflop = j.at("train_step_tflop").get<double>();
    CHECK(tflop == doctest::Approx(3.0 * static_cast<double>(model_flops(model, 64, 64)) / 1e12).epsilon(1e-12));
    CHECK(j.at("train_step_tflop_per_s").get<double>() == doctest::Approx(tflop / step).epsilon(1e-12));
  }
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
