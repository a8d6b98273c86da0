// Tests of bench_unet (bench/unet_bench.h) through the runner (tools/runner.h): one small run of each
// model ends with a JSON line carrying the timings and the FLOP counts, and bad arguments are usage errors.
#include <sstream>

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
    std::string last = r.out.substr(r.out.rfind('{'));
    CHECK(last.find("\"model\": \"" + std::string(model) + "\"") != std::string::npos);
    CHECK(last.find("\"train_step_s\": ") != std::string::npos);
    CHECK(last.find("\"forward_s\": ") != std::string::npos);
    // One image's forward at 64x64; the step (batch 1) is 3x it; the rate follows the step's time.
    CHECK(last.find("\"flops_per_image_forward\": " + std::to_string(model_flops(model, 64, 64)) + ",") !=
          std::string::npos);
    const size_t tflop = last.find("\"train_step_tflop\": "), step = last.find("\"train_step_s\": ");
    const size_t rate = last.find("\"train_step_tflop_per_s\": ");
    REQUIRE((tflop != std::string::npos && step != std::string::npos && rate != std::string::npos));
    const double tflop_value = std::stod(last.substr(tflop + 20)), step_value = std::stod(last.substr(step + 16));
    CHECK(tflop_value == doctest::Approx(3.0 * static_cast<double>(model_flops(model, 64, 64)) / 1e12).epsilon(1e-6));
    CHECK(std::stod(last.substr(rate + 26)) == doctest::Approx(tflop_value / step_value).epsilon(1e-4));
    CHECK(last.back() == '\n');
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
