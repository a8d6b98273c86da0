// Tests of bench_unet (bench/unet_bench.h): one small run of each model ends with a JSON line
// carrying the timings, and bad arguments are usage errors.
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/unet_bench.h"
#include "tests/testing.h"

using namespace pleura;

TEST_CASE("bench_unet: a small run prints its timings as JSON") {
  for (const char* model : {"albunet", "resnet50_unet", "scse_unet"}) {
    std::ostringstream out, err;
    int rc = bench_unet_main({"--model", model, "--size", "64", "--batch", "1", "--steps", "1", "--warmup", "0", "--json"},
                             out, err);
    INFO(err.str());
    REQUIRE(rc == 0);
    std::string text = out.str();
    REQUIRE(text.size() > 1);
    CHECK(text.back() == '\n');
    const std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
    const nlohmann::json j = nlohmann::json::parse(last);
    CHECK(j.at("model") == model);
    CHECK(j.at("size") == 64);
    CHECK(j.at("batch") == 1);
    CHECK(j.at("device") == "cpu");
    CHECK(j.at("train_step_s").get<double>() > 0);
    CHECK(j.at("forward_s").get<double>() > 0);
    CHECK(std::isfinite(j.at("final_loss").get<double>()));
  }
}

TEST_CASE("bench_unet: bad arguments are usage errors") {
  std::ostringstream out, err;
  CHECK(bench_unet_main({"--model", "albunet", "--size", "abc"}, out, err) == 2);
  CHECK(err.str().find("size") != std::string::npos);
  std::ostringstream out2, err2;
  CHECK(bench_unet_main({"--device", "gpu"}, out2, err2) == 2);
  CHECK(err2.str().find("cannot parse device 'gpu'") != std::string::npos);
  std::ostringstream out3, err3;
  CHECK(bench_unet_main({"--model", "vgg", "--size", "64", "--steps", "1"}, out3, err3) == 1);
  CHECK(err3.str().find("vgg") != std::string::npos);
}
