// make_model and init_weights (models/model.h): the registry's names and error, determinism from the
// seed, and the initialisation scheme each reference model gives its encoder and decoder.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/batchnorm.h"
#include "layers/conv.h"
#include "models/model.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
Conv2d& conv_named(Model& model, const std::string& name) {
  for (auto& [n, m] : model.named_modules())
    if (n == name) return dynamic_cast<Conv2d&>(*m);
  FAIL("no module ", name);
  throw 0;
}
double stddev_of(const Tensor& t) {
  std::vector<double> v = t.to_vector();
  double mean = 0, var = 0;
  for (double e : v) mean += e / v.size();
  for (double e : v) var += (e - mean) * (e - mean) / v.size();
  return std::sqrt(var);
}
bool all_zero(const Tensor& t) {
  for (double v : t.to_vector())
    if (v != 0) return false;
  return true;
}
// Kaiming normal: sample std within 3% of sqrt(2 / fan) (>= 36864 samples).
void check_kaiming(Conv2d& c, double fan) {
  CHECK(std::fabs(stddev_of(c.weight()) / std::sqrt(2.0 / fan) - 1) < 0.03);
  if (c.has_bias()) CHECK(all_zero(c.bias()));
}
// PyTorch default: uniform in +-1/sqrt(fan_in) (std bound / sqrt 3), bias uniform and not zero.
void check_default(Conv2d& c) {
  double bound = 1.0 / std::sqrt(static_cast<double>(c.fan_in()));
  CHECK(std::fabs(stddev_of(c.weight()) / (bound / std::sqrt(3.0)) - 1) < 0.03);
  CHECK_FALSE(all_zero(c.bias()));
}
}  // namespace

TEST_CASE("make_model: known names, and an error listing them for others") {
  CHECK(model_names() == std::vector<std::string>{"albunet", "resnet50_unet", "scse_unet"});
  for (const auto& name : model_names()) CHECK(std::string(make_model(name)->name()) == name);
  expect_error([] { make_model("unet"); }, {"[make_model]", "'unet'", "albunet, resnet50_unet, scse_unet"});
}

TEST_CASE("init_weights: same seed same weights, other seed other weights; batch norm reset") {
  auto a = make_model("resnet50_unet", 5), b = make_model("resnet50_unet", 5), c = make_model("resnet50_unet", 6);
  auto sa = a->state_dict_slots(), sb = b->state_dict_slots(), sc = c->state_dict_slots();
  for (size_t i : {size_t{0}, sa.size() / 2, sa.size() - 1}) {
    CAPTURE(sa[i].first);
    CHECK(sa[i].second->to_vector() == sb[i].second->to_vector());
  }
  CHECK(sa[0].second->to_vector() != sc[0].second->to_vector());
  init_weights(*c, 5);
  CHECK(sc[0].second->to_vector() == sa[0].second->to_vector());
  for (auto& [name, m] : a->named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) {
      CHECK(bn->weight().to_vector() == std::vector<double>(bn->channels(), 1.0));
      CHECK(all_zero(bn->bias()));
      break;
    }
}

TEST_CASE("init_weights: each model's encoder and decoder get the reference code's scheme") {
  auto albunet = make_model("albunet", 7);
  check_kaiming(conv_named(*albunet, "encoder.layer1.0.conv1"), 64 * 9);  // torchvision: fan_out
  check_kaiming(conv_named(*albunet, "encoder.layer4.0.downsample.0"), 512);
  check_default(conv_named(*albunet, "center.block.1.conv"));             // TernausNet: PyTorch default
  check_default(conv_named(*albunet, "dec0.conv"));

  auto resnet = make_model("resnet50_unet", 8);
  check_kaiming(conv_named(*resnet, "encoder_stages.1.1.0.conv1"), 64);  // selim resnet.py: fan_out
  check_kaiming(conv_named(*resnet, "encoder_stages.3.0.conv2"), 256 * 9);
  check_kaiming(conv_named(*resnet, "bottlenecks.0.seq.0"), 1280 * 9);   // selim decoder: fan_in
  check_kaiming(conv_named(*resnet, "decoder_stages.3.layer.1"), 2048 * 9);

  auto scse = make_model("scse_unet", 9);
  check_kaiming(conv_named(*scse, "encoder_stages.3.0.conv2"), 16 * 9);  // Cadene SENet: fan_in, groups
  check_kaiming(conv_named(*scse, "encoder_stages.4.0.se_module.fc1"), 2048);
  check_kaiming(conv_named(*scse, "bottlenecks.0.seq.2.fc1"), 384);
  check_kaiming(conv_named(*scse, "bottlenecks.0.seq.0"), 1408 * 9);
}
