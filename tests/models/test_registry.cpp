// The model registry (models/registry.h) and init_weights (models/model.h): the names and errors, each
// record's facts against its model (input multiple, encoder prefix, encoder import, state-dict rules),
// determinism from the seed, the initialisation scheme each reference model gives its encoder and
// decoder, and the layer names out-of-memory messages give. FLOP counts: tests/models/test_flops.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "engine/alloc_context.h"
#include "engine/host_allocator.h"
#include "engine/ops/reduce.h"
#include "layers/batchnorm.h"
#include "layers/conv.h"
#include "models/registry.h"
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
  CHECK(known_models() == "albunet, resnet50_unet, scse_unet");
  CHECK(find_model("unet") == nullptr);
  CHECK(find_model("scse_unet") == &model_registry()[2]);
  expect_error([] { model_spec("unet"); },
               {"[models] unknown model 'unet'; known models: albunet, resnet50_unet, scse_unet"});
  expect_error([] { model_spec("Albunet", "infer"); }, {"[infer] unknown model 'Albunet'"});
  // The reference's spellings are recorded, not accepted.
  expect_error([] { make_model("scseunet"); }, {"unknown model 'scseunet'"});
}

TEST_CASE("registry: each record's input multiple, encoder prefix and class are its model's") {
  const std::vector<std::pair<std::string, int64_t>> multiples = {
      {"albunet", 64}, {"resnet50_unet", 32}, {"scse_unet", 32}};
  for (const auto& [name, multiple] : multiples) {
    INFO(name);
    const ModelSpec& spec = model_spec(name);
    CHECK(spec.input_multiple == multiple);
    std::shared_ptr<Model> m = make_model(name, 1);
    CHECK(m->input_multiple() == multiple);
    CHECK(spec.class_name == (name == "albunet" ? "AlbuNet" : name == "resnet50_unet" ? "Resnet50Unet" : "ScseUnet"));
    // The encoder prefix names real parameters: freeze() finds them, and only them.
    const int frozen = m->freeze(spec.encoder_prefix);
    CHECK(frozen > 0);
    CHECK(m->trainable_parameters().size() + static_cast<size_t>(frozen) == m->parameters().size());
    int decoder = 0;
    for (const auto& [key, t] : m->named_parameters()) decoder += key.rfind(spec.encoder_prefix, 0) != 0;
    CHECK(decoder == static_cast<int>(m->trainable_parameters().size()));
  }
}

TEST_CASE("registry: each encoder import names exactly the model's encoder slots, shapes and order") {
  for (const ModelSpec& spec : model_registry()) {
    INFO(spec.name);
    std::shared_ptr<Model> m = make_model(spec.name, 1);
    std::vector<std::pair<std::string, Shape>> slots;
    for (const auto& [key, t] : m->state_dict_slots())
      if (key.rfind(spec.encoder_prefix, 0) == 0) slots.emplace_back(key, t->shape());
    std::vector<std::pair<std::string, Shape>> keys = pretrained_encoder_keys(spec.encoder);
    REQUIRE(keys.size() == slots.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      CHECK_MESSAGE(keys[i].first == slots[i].first, i);
      CHECK_MESSAGE(keys[i].second == slots[i].second, keys[i].first);
    }
    CHECK(spec.encoder.model == spec.name);
  }
}

TEST_CASE("registry: AlbuNet's state-dict rules, worked by hand, and a PyTorch-style export loading through them") {
  const StateDictRules& rules = model_spec("albunet").state_dict;
  CHECK(rename_prefix(rules.aliases, "conv1.0.weight") == "encoder.conv1.weight");
  CHECK(rename_prefix(rules.aliases, "conv1.1.running_var") == "encoder.bn1.running_var");
  CHECK(rename_prefix(rules.aliases, "conv3.1.conv2.weight") == "encoder.layer2.1.conv2.weight");
  CHECK(rename_prefix(rules.aliases, "conv5.0.downsample.1.bias") == "encoder.layer4.0.downsample.1.bias");
  CHECK(rename_prefix(rules.aliases, "center.block.1.conv.weight") == "");
  CHECK(model_spec("resnet50_unet").state_dict.aliases.empty());
  CHECK(model_spec("scse_unet").state_dict.optional.empty());

  // What TernausNet's state_dict holds beyond Pleura's slots: an alias of every encoder.layer2 tensor and
  // the classifier. It loads with the registry's options, and refuses without them.
  std::shared_ptr<Model> a = make_model("albunet", 3), b = make_model("albunet", 4);
  std::vector<NamedTensor> file = state_dict_of(a->state_dict_slots());
  size_t aliases = 0;
  for (const NamedTensor& nt : state_dict_of(a->state_dict_slots())) {
    if (nt.name.rfind("encoder.layer2.", 0) != 0) continue;
    file.push_back({"conv3." + nt.name.substr(15), nt.tensor});
    ++aliases;
  }
  file.push_back({"encoder.fc.weight", Tensor::ones({1000, 512})});
  file.push_back({"encoder.fc.bias", Tensor::ones({1000})});
  LoadReport r = load_state_dict(b->state_dict_slots(), file, model_load_options("albunet", "export.safetensors"));
  CHECK(r.ok());
  CHECK(r.ignored.size() == aliases + 2);
  CHECK(std::count(r.ignored.begin(), r.ignored.end(), "encoder.fc.bias (AlbuNet's unused ImageNet classifier)") == 1);
  const auto sa = a->state_dict_slots(), sb = b->state_dict_slots();
  for (size_t i = 0; i < sa.size(); i += 17)
    CHECK_MESSAGE(sa[i].second->to_vector() == sb[i].second->to_vector(), sa[i].first);
  LoadOptions no_rules;
  no_rules.file_name = "export.safetensors";
  expect_error([&] { load_state_dict(b->state_dict_slots(), file, no_rules); },
               {"export.safetensors does not match the model", "conv3.0.conv1.weight", "encoder.fc.weight"});
  expect_error([] { model_load_options("vgg", "x"); }, {"[load_state_dict] unknown model 'vgg'"});
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

namespace {

// The out-of-memory message of `fn`, which must fail with one.
std::string out_of_memory_message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const OutOfMemoryError& e) {
    return e.what();
  }
  FAIL("expected an out-of-memory error");
  return "";
}

// "X" of "... in layer X (workload) ...", or "" when no layer is named.
std::string layer_named_in(const std::string& message) {
  const std::string tag = " in layer ";
  const size_t in = message.find(tag);
  if (in == std::string::npos) return "";
  const size_t start = in + tag.size(), end = message.find_first_of(" ;", start);
  return message.substr(start, end - start);
}

}  // namespace

TEST_CASE("make_model names its layers; out of memory in forward and in backward names the layer") {
  std::shared_ptr<Model> model = make_model("albunet", 1);
  std::set<std::string> names;
  for (auto& [name, m] : model->named_modules()) {
    if (name.empty()) {
      CHECK(m->layer_name() == nullptr);
      continue;
    }
    REQUIRE(m->layer_name() != nullptr);
    CHECK(*m->layer_name() == name);
    names.insert(name);
  }
  Rng rng(5);
  const Tensor x = randn({1, 3, 64, 64}, rng);
  set_workload("training albunet at 64x64, batch 1");
  std::string forward_message;
  {
    const HostAllocFailure failure(size_t(128) << 10);  // the first 64-channel 32x32 activation
    forward_message = out_of_memory_message_of([&] { model->forward(x); });
  }
  INFO(forward_message);
  CHECK(forward_message.find("[cpu alloc] out of memory") != std::string::npos);
  CHECK(forward_message.find("(training albunet at 64x64, batch 1)") != std::string::npos);
  CHECK(names.count(layer_named_in(forward_message)) == 1);

  const Tensor loss = sum(model->forward(x));
  std::string backward_message;
  {
    const HostAllocFailure failure(size_t(128) << 10);
    backward_message = out_of_memory_message_of([&] { loss.backward(); });
  }
  set_workload("");
  INFO(backward_message);
  CHECK(backward_message.find(" backward in layer ") != std::string::npos);
  CHECK(names.count(layer_named_in(backward_message)) == 1);
  CHECK(current_layer() == nullptr);
}
