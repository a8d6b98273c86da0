// Tests of Module and Sequential (layers/module.h): PyTorch names and orders, registration errors,
// train/eval propagation, freeze/unfreeze (no gradient reaches a frozen parameter), device and dtype
// moves.
#include "layers/module.h"

#include "engine/autograd.h"
#include "engine/ops/reduce.h"
#include "layers/basic.h"
#include "layers/batchnorm.h"
#include "layers/conv.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
// conv (with bias) -> bn -> relu, plus a child with a child: the shape of a ResNet stage.
struct Net : Module {
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
  std::shared_ptr<Sequential> body;
  Net() {
    register_parameter("scale", Tensor::ones({1}));
    register_buffer("steps", Tensor::zeros({1}));
    conv = register_module("conv", std::make_shared<Conv2d>(2, 3, 3, Bias::kWith, Conv2dParams{.pad_h = 1, .pad_w = 1}));
    bn = register_module("bn", std::make_shared<BatchNorm2d>(3));
    body = register_module("body", std::make_shared<Sequential>());
    body->append(std::make_shared<ReLU>());
    auto inner = body->append(std::make_shared<Sequential>());
    auto head = inner->append(std::make_shared<Conv2d>(3, 1, 1, Bias::kNone));
    inner->append(std::make_shared<BatchNorm2d>(1), "norm");
    Rng rng(11);
    conv->reset_parameters(rng);
    head->reset_parameters(rng);
  }
  Tensor forward(const Tensor& x) { return body->forward(bn->forward(conv->forward(x))); }
};

std::vector<std::string> names_of(const NamedSlots& slots) {
  std::vector<std::string> out;
  for (auto& s : slots) out.push_back(s.first);
  return out;
}
}  // namespace

TEST_CASE("module: hierarchical names in PyTorch's orders") {
  Net net;
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"scale", "conv.weight", "conv.bias", "bn.weight", "bn.bias", "body.1.0.weight",
                                 "body.1.norm.weight", "body.1.norm.bias"});
  CHECK(names_of(net.named_buffers()) ==
        std::vector<std::string>{"steps", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                                 "body.1.norm.running_mean", "body.1.norm.running_var",
                                 "body.1.norm.num_batches_tracked"});
  // The buffers that follow the module to its device: the same order, without the host-placed counters.
  const NamedSlots all = net.named_buffers();
  CHECK(net.device_buffers() == std::vector<Tensor*>{all[0].second, all[1].second, all[2].second, all[4].second,
                                                     all[5].second});
  CHECK(net.host_buffers() == std::vector<Tensor*>{all[3].second, all[6].second});
  // state_dict: per module parameters, then buffers, then children.
  CHECK(names_of(net.state_dict_slots()) ==
        std::vector<std::string>{"scale", "steps", "conv.weight", "conv.bias", "bn.weight", "bn.bias",
                                 "bn.running_mean", "bn.running_var", "bn.num_batches_tracked", "body.1.0.weight",
                                 "body.1.norm.weight", "body.1.norm.bias", "body.1.norm.running_mean",
                                 "body.1.norm.running_var", "body.1.norm.num_batches_tracked"});
  std::vector<std::string> modules;
  for (auto& [name, m] : net.named_modules()) modules.push_back(name);
  CHECK(modules == std::vector<std::string>{"", "conv", "bn", "body", "body.0", "body.1", "body.1.0", "body.1.norm"});
  // Slots point at the module's own tensors: writing through one changes what forward uses.
  Tensor* w = net.state_dict_slots()[2].second;
  CHECK(w == &net.conv->weight());
  CHECK(net.num_parameters() == 1 + 3 * 2 * 9 + 3 + 3 + 3 + 3 + 1 + 1);
  CHECK(net.parameters().size() == 8);
}

TEST_CASE("module: registration errors name the module field") {
  Net net;
  expect_error([&] { net.register_parameter("scale", Tensor::ones({1})); }, {"[module]", "'scale'", "already taken"});
  expect_error([&] { net.register_buffer("conv", Tensor::ones({1})); }, {"[module]", "'conv'", "already taken"});
  expect_error([&] { net.register_module("a.b", std::make_shared<ReLU>()); }, {"[module]", "'a.b'", "without '.'"});
  expect_error([&] { net.register_parameter("idx", Tensor::zeros({2}, DType::kInt64)); }, {"[module]", "'idx'", "int64"});
}

TEST_CASE("module: train/eval reaches every descendant") {
  Net net;
  CHECK(net.is_training());
  net.eval();
  for (auto& [name, m] : net.named_modules()) CHECK_MESSAGE(!m->is_training(), name);
  net.train();
  for (auto& [name, m] : net.named_modules()) CHECK_MESSAGE(m->is_training(), name);
}

TEST_CASE("module: frozen parameters get no gradient, unfrozen ones do") {
  Net net;
  Tensor x = random_tensor({2, 2, 5, 5}, 4, DType::kFloat32);
  sum(net.forward(x)).backward();
  CHECK(net.conv->weight().grad().defined());
  CHECK(net.freeze("conv.") == 2);
  CHECK_FALSE(net.conv->weight().requires_grad());
  CHECK_FALSE(net.conv->weight().grad().defined());  // freeze drops the stale gradient
  CHECK(net.trainable_parameters().size() == 6);
  sum(net.forward(x)).backward();
  CHECK_FALSE(net.conv->weight().grad().defined());
  CHECK_FALSE(net.conv->bias().grad().defined());
  CHECK(net.bn->weight().grad().defined());
  CHECK(net.unfreeze("conv.") == 2);
  CHECK(net.conv->weight().requires_grad());
  net.zero_grad();
  for (Tensor* p : net.parameters()) CHECK_FALSE(p->grad().defined());
  expect_error([&] { net.freeze("encoder."); }, {"freeze('encoder.')", "conv.", "body."});
}

TEST_CASE("module: to(dtype) converts floating tensors, keeps requires_grad, leaves int64 buffers") {
  Net net;
  net.freeze("bn.");
  net.to(DType::kFloat64);
  for (auto& [name, t] : net.state_dict_slots()) {
    CAPTURE(name);
    CHECK(t->dtype() == (name.ends_with("num_batches_tracked") ? DType::kInt64 : DType::kFloat64));
  }
  CHECK(net.conv->weight().requires_grad());
  CHECK_FALSE(net.bn->weight().requires_grad());
  Tensor y = net.forward(random_tensor({1, 2, 4, 4}, 5));
  CHECK(y.dtype() == DType::kFloat64);
  expect_error([&] { net.to(DType::kUInt8); }, {"[module]", "uint8"});
}

TEST_CASE("module: to(CUDA) moves parameters and buffers, keeps requires_grad" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  Net net;
  net.freeze("bn.");
  Tensor before = net.conv->weight().clone();
  net.to(Device::cuda());
  for (auto& [name, t] : net.state_dict_slots()) {
    CAPTURE(name);
    CHECK(t->device() == (name.ends_with("num_batches_tracked") ? Device::cpu() : Device::cuda()));
  }
  CHECK(net.conv->weight().requires_grad());
  CHECK_FALSE(net.bn->weight().requires_grad());
  CHECK(net.conv->weight().to_vector() == before.to_vector());
  sum(net.forward(random_tensor({2, 2, 5, 5}, 7, DType::kFloat32).to(Device::cuda()))).backward();
  CHECK(net.conv->weight().grad().device() == Device::cuda());
  CHECK_FALSE(net.bn->weight().grad().defined());
  CHECK(net.bn->num_batches_tracked().item() == 1);
  net.to(Device::cpu());
  CHECK(net.conv->weight().device() == Device::cpu());
  CHECK(net.conv->weight().grad().device() == Device::cpu());
}
