// Tests of batch norms folded into convolutions for inference (layers/conv_bn.h): a worked example of the
// folded weight and bias, the folded layers against the unfolded ones (with and without a convolution bias),
// every batch norm of the three UNets folded and their eval outputs unchanged but for rounding, parameters
// and checkpoints untouched, a folded model moved afterwards (dtype; device in the gpu suite), Sequential's
// Conv2d + ReLU runs, and the refusals in training mode.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/relu.h"
#include "layers/basic.h"
#include "layers/conv_bn.h"
#include "models/registry.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

// Batch-norm statistics and affine parameters far from the identity, so that folding has work to do.
void randomise_batch_norm(BatchNorm2d& bn, uint64_t seed) {
  const int64_t c = bn.channels();
  const DType t = bn.weight().dtype();
  bn.weight().copy_from(random_tensor({c}, seed, t, 0.5, 1.5));
  bn.bias().copy_from(random_tensor({c}, seed + 1, t, -0.5, 0.5));
  bn.running_mean().copy_from(random_tensor({c}, seed + 2, t, -0.3, 0.3));
  bn.running_var().copy_from(random_tensor({c}, seed + 3, t, 0.5, 2.0));
}

int count_batch_norms(Module& model, bool folded) {
  int n = 0;
  for (const auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m); bn != nullptr && bn->folded() == folded) ++n;
  return n;
}

}  // namespace

TEST_CASE("fold_batch_norms: worked example of the folded weight and bias") {
  Sequential seq;
  auto conv = seq.append(std::make_shared<Conv2d>(1, 2, 1, Bias::kWith));
  auto bn = seq.append(std::make_shared<BatchNorm2d>(2));
  conv->weight().copy_from(Tensor::from_vector({2.0, -1.0}, {2, 1, 1, 1}, DType::kFloat32));
  conv->bias().copy_from(Tensor::from_vector({0.5, 1.0}, {2}, DType::kFloat32));
  bn->weight().copy_from(Tensor::from_vector({3.0, 2.0}, {2}, DType::kFloat32));
  bn->bias().copy_from(Tensor::from_vector({1.0, -1.0}, {2}, DType::kFloat32));
  bn->running_mean().copy_from(Tensor::from_vector({0.5, 2.0}, {2}, DType::kFloat32));
  bn->running_var().copy_from(Tensor::from_vector({4.0 - 1e-5, 1.0 - 1e-5}, {2}, DType::kFloat32));
  seq.eval();
  CHECK(fold_batch_norms(seq) == 1);
  CHECK(conv->folded());
  CHECK(bn->folded());
  // y = w' x + b' per channel; x = [1, -2]: channel 0 gives [4, -5], channel 1 gives [-5, 1].
  // Channel 0: s = 3 / sqrt(4) = 1.5, w' = 2 * 1.5 = 3, b' = (0.5 - 0.5) * 1.5 + 1 = 1.
  // Channel 1: s = 2 / sqrt(1) = 2, w' = -1 * 2 = -2, b' = (1 - 2) * 2 - 1 = -3.
  // (The running variances were stored as float32, so the products are only float32-close to these.)
  const NoGradGuard no_grad;
  const Tensor x = Tensor::from_vector({1.0, -2.0}, {1, 1, 1, 2}, DType::kFloat32);
  expect_close(seq.forward(x), Tensor::from_vector({4.0, -5.0, -5.0, 1.0}, {1, 2, 1, 2}, DType::kFloat32), 1e-6,
               1e-6, "folded conv + bn");
  // The parameters themselves are untouched.
  CHECK(conv->weight().to_vector() == std::vector<double>{2.0, -1.0});
  CHECK(fold_batch_norms(seq) == 0);  // nothing left to fold
}

TEST_CASE("fold_batch_norms: conv + bn + relu folded equals the layers, without and with a convolution bias") {
  for (const Bias bias : {Bias::kNone, Bias::kWith}) {
    Sequential folded_seq, plain_seq;
    Rng rng(7);
    for (Sequential* s : {&folded_seq, &plain_seq}) {
      auto conv = s->append(std::make_shared<Conv2d>(8, 16, 3, bias, Conv2dParams{.pad_h = 1, .pad_w = 1}));
      Rng same(7);
      conv->reset_parameters(same);
      randomise_batch_norm(*s->append(std::make_shared<BatchNorm2d>(16)), 9);
      s->append(std::make_shared<ReLU>());
      s->eval();
    }
    CHECK(fold_batch_norms(folded_seq) == 1);
    const NoGradGuard no_grad;
    const Tensor x = random_tensor({2, 8, 20, 18}, 11, DType::kFloat32);
    const Tensor a = folded_seq.forward(x), b = plain_seq.forward(x);
    // Folding moves the rounding, not the value: within a few float32 ulps of the pre-activation scale.
    CHECK(max_abs_diff(a, b) <= 1e-5 * max_abs(b));
    CHECK(max_abs(b) > 0.5);
  }
}

namespace {
// conv + bn, folded, in float32 on the CPU.
std::shared_ptr<Sequential> folded_conv_bn() {
  auto seq = std::make_shared<Sequential>();
  auto conv = seq->append(std::make_shared<Conv2d>(3, 4, 3, Bias::kWith, Conv2dParams{.pad_h = 1, .pad_w = 1}));
  Rng rng(21);
  conv->reset_parameters(rng);
  randomise_batch_norm(*seq->append(std::make_shared<BatchNorm2d>(4)), 23);
  seq->eval();
  REQUIRE(fold_batch_norms(*seq) == 1);
  return seq;
}
}  // namespace

TEST_CASE("fold_batch_norms: a folded model moved afterwards takes its folded weights along") {
  // Folded in float32, then converted to float64: forward runs in float64 with the folded weights converted
  // (they were left behind before, and the convolution refused the mix).
  auto seq = folded_conv_bn();
  const NoGradGuard no_grad;
  const Tensor x = random_tensor({2, 3, 5, 6}, 25, DType::kFloat32);
  const Tensor in_float32 = seq->forward(x);
  seq->to(DType::kFloat64);
  const Tensor in_float64 = seq->forward(x.to(DType::kFloat64));
  CHECK(in_float64.dtype() == DType::kFloat64);
  CHECK(max_abs_diff(in_float64, in_float32.to(DType::kFloat64)) <= 1e-5 * max_abs(in_float64));
}

TEST_CASE("fold_batch_norms: folded on the CPU, moved to CUDA, the same output" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  auto seq = folded_conv_bn();
  const NoGradGuard no_grad;
  const Tensor x = random_tensor({2, 3, 5, 6}, 27, DType::kFloat32);
  const Tensor on_cpu = seq->forward(x);
  seq->to(Device::cuda());
  const Tensor on_gpu = seq->forward(x.to(Device::cuda())).to(Device::cpu());
  CHECK(max_abs_diff(on_gpu, on_cpu) <= 1e-5 * max_abs(on_cpu));
}

TEST_CASE("fold_batch_norms: every batch norm of the three UNets, eval outputs equal but for rounding") {
  for (const char* name : {"albunet", "resnet50_unet", "scse_unet"}) {
    CAPTURE(name);
    auto folded = make_model(name, 5), plain = make_model(name, 5);
    uint64_t seed = 1000;
    for (Model* m : {folded.get(), plain.get()}) {
      seed = 1000;
      for (const auto& [n, module] : m->named_modules())
        if (auto* bn = dynamic_cast<BatchNorm2d*>(module)) randomise_batch_norm(*bn, seed += 4);
      m->eval();
    }
    const int batch_norms = count_batch_norms(*folded, false);
    REQUIRE(batch_norms > 0);
    CHECK(fold_batch_norms(*folded) == batch_norms);
    CHECK(count_batch_norms(*folded, false) == 0);
    const NoGradGuard no_grad;
    const Tensor x = random_tensor({1, 3, 64, 64}, 77, DType::kFloat32, 0, 1);
    const Tensor a = folded->forward(x), b = plain->forward(x);
    CHECK(max_abs_diff(a, b) <= 1e-4 * max_abs(b));
    // The state dicts (what checkpoints save) are the same bits.
    const NamedSlots sa = folded->state_dict_slots(), sb = plain->state_dict_slots();
    REQUIRE(sa.size() == sb.size());
    for (size_t i = 0; i < sa.size(); ++i) CHECK(sa[i].second->to_vector() == sb[i].second->to_vector());
  }
}

TEST_CASE("Sequential: Conv2d + ReLU runs as one forward_relu, the same bits and the same gradients") {
  Sequential seq;
  auto conv = seq.append(std::make_shared<Conv2d>(4, 6, 3, Bias::kWith, Conv2dParams{.pad_h = 1, .pad_w = 1}));
  seq.append(std::make_shared<ReLU>());
  Rng rng(3);
  conv->reset_parameters(rng);
  Tensor x = random_tensor({2, 4, 7, 9}, 13, DType::kFloat32);
  x.set_requires_grad(true);
  const Tensor y = seq.forward(x);
  const Tensor reference = relu(conv2d(x, conv->weight(), conv->bias(), conv->params()));
  CHECK(y.to_vector() == reference.to_vector());
  CHECK(y.requires_grad());
  const NoGradGuard no_grad;
  CHECK(seq.forward(x).to_vector() == reference.to_vector());
}

TEST_CASE("fold_batch_norms: refused in training mode, and a folded model refuses training") {
  auto model = make_model("albunet", 6);
  expect_error([&] { fold_batch_norms(*model); }, {"[fold_batch_norms]", "training mode", "eval()"});
  model->eval();
  CHECK(fold_batch_norms(*model) > 0);
  model->train();
  const Tensor x = random_tensor({1, 3, 64, 64}, 8, DType::kFloat32);
  expect_error([&] { model->forward(x); }, {"folded", "inference only", "training mode"});
}
