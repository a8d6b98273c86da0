// Tests of Conv2d (layers/conv.h) and BatchNorm2d (layers/batchnorm.h): worked examples, agreement
// with the engine ops they wrap, PyTorch's default initialisation bounds, running statistics and
// num_batches_tracked, float64 gradient checks through the layers' own parameters, bad arguments.
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/batch_norm.h"
#include "layers/batchnorm.h"
#include "layers/conv.h"
#include "tests/gradcheck.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("Conv2d: worked example with bias") {
  Conv2d conv(1, 1, 2, Bias::kWith);
  conv.weight().copy_from(Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2}));
  conv.bias().copy_from(Tensor::from_vector({0.5}, {1}));
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  // Top-left window: 1*1 + 2*2 + 4*3 + 5*4 = 37, plus the bias; the others likewise.
  CHECK(conv.forward(x).to_vector() == std::vector<double>{37.5, 47.5, 67.5, 77.5});
}

TEST_CASE("Conv2d: equals conv2d with its weight, stride, padding and groups; no bias registered") {
  Conv2dParams p{.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 2};
  Conv2d conv(4, 6, 3, Bias::kNone, p);
  CHECK(conv.weight().shape() == Shape{6, 2, 3, 3});
  CHECK_FALSE(conv.has_bias());
  CHECK_FALSE(conv.bias().defined());
  CHECK(conv.named_parameters().size() == 1);
  CHECK(conv.fan_in() == 2 * 3 * 3);
  Rng rng(21);
  conv.reset_parameters(rng);
  Tensor x = random_tensor({2, 4, 7, 6}, 22, DType::kFloat32);
  expect_close(conv.forward(x), conv2d(x, conv.weight(), Tensor(), p), 0, 0, "Conv2d vs conv2d");
}

TEST_CASE("Conv2d: reset_parameters draws PyTorch's default uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))") {
  Conv2d conv(64, 32, 3, Bias::kWith);
  Rng rng(23);
  conv.reset_parameters(rng);
  double bound = 1.0 / std::sqrt(64.0 * 9.0);
  for (Tensor* t : {&conv.weight(), &conv.bias()}) {
    std::vector<double> v = t->to_vector();
    double lo = 1e9, hi = -1e9, mean = 0;
    for (double e : v) lo = std::min(lo, e), hi = std::max(hi, e), mean += e / v.size();
    CHECK(lo >= -bound);
    CHECK(hi <= bound);
    // 18432 weights reach within 1% of the bound on both sides; 32 biases within 25%.
    double reach = t == &conv.weight() ? 0.99 : 0.75;
    CHECK(lo <= -reach * bound);
    CHECK(hi >= reach * bound);
    CHECK(std::fabs(mean) < 0.2 * bound);
  }
}

TEST_CASE("Conv2d: bad arguments name the layer") {
  expect_error([] { Conv2d(6, 4, 3, Bias::kNone, Conv2dParams{.groups = 4}); }, {"[Conv2d]", "in_channels 6", "groups 4"});
  expect_error([] { Conv2d(0, 4, 3, Bias::kNone); }, {"[Conv2d]", "in_channels 0"});
  Conv2d conv(3, 4, 3, Bias::kNone);
  expect_error([&] { conv.forward(Tensor::zeros({1, 2, 8, 8})); }, {"[conv2d]", "2 channels"});
}

TEST_CASE("BatchNorm2d: worked example in training then eval mode") {
  BatchNorm2d bn(1);
  CHECK(bn.num_batches_tracked().shape() == Shape{});
  CHECK(bn.num_batches_tracked().dtype() == DType::kInt64);
  bn.weight().copy_from(Tensor::from_vector({2}, {1}));
  bn.bias().copy_from(Tensor::from_vector({1}, {1}));
  Tensor x = Tensor::from_vector({1, 3, 5, 7}, {2, 1, 1, 2});
  // Batch mean 4, biased variance (9 + 1 + 1 + 9) / 4 = 5, unbiased 20 / 3.
  double s = std::sqrt(5.0 + 1e-5);
  expect_close(bn.forward(x), Tensor::from_vector({1 - 6 / s, 1 - 2 / s, 1 + 2 / s, 1 + 6 / s}, {2, 1, 1, 2}), 1e-6, 1e-6,
               "training output");
  expect_close(bn.running_mean(), Tensor::from_vector({0.1 * 4}, {1}), 1e-6, 0, "running_mean");
  expect_close(bn.running_var(), Tensor::from_vector({0.9 + 0.1 * 20.0 / 3.0}, {1}), 1e-6, 0, "running_var");
  CHECK(bn.num_batches_tracked().item() == 1);
  {
    NoGradGuard no_grad;  // PyTorch counts training batches under no_grad too
    bn.forward(x);
  }
  CHECK(bn.num_batches_tracked().item() == 2);

  bn.eval();
  Tensor rm = bn.running_mean().clone(), rv = bn.running_var().clone();
  std::vector<double> mean = rm.to_vector(), var = rv.to_vector();
  std::vector<double> want;
  for (double v : {1.0, 3.0, 5.0, 7.0}) want.push_back((v - mean[0]) / std::sqrt(var[0] + 1e-5) * 2 + 1);
  expect_close(bn.forward(x), Tensor::from_vector(want, {2, 1, 1, 2}), 1e-6, 1e-6, "eval output");
  CHECK(bn.num_batches_tracked().item() == 2);
  CHECK(bn.running_mean().to_vector() == mean);
  CHECK(bn.running_var().to_vector() == var);

  bn.reset_parameters();
  CHECK(bn.running_var().to_vector() == std::vector<double>{1});
  CHECK(bn.num_batches_tracked().item() == 0);
}

TEST_CASE("BatchNorm2d -> Conv2d: float64 gradient check through the layers' parameters") {
  // Batch norm first: a conv bias right before a training-mode batch norm has a zero gradient.
  BatchNorm2d bn(3);
  Conv2d conv(3, 4, 3, Bias::kWith, {.pad_h = 1, .pad_w = 1});
  bn.to(DType::kFloat64);
  conv.to(DType::kFloat64);
  Rng rng(24);
  conv.reset_parameters(rng);
  std::vector<Tensor> inputs = {random_tensor({2, 3, 5, 4}, 25), random_tensor({3}, 26, DType::kFloat64, 0.5, 1.5),
                                random_tensor({3}, 27), conv.weight().detach(), conv.bias().detach()};
  check_gradients(
      [&](const std::vector<Tensor>& in) {
        bn.weight() = in[1];
        bn.bias() = in[2];
        conv.weight() = in[3];
        conv.bias() = in[4];
        return conv.forward(bn.forward(in[0]));
      },
      inputs);
}

TEST_CASE("BatchNorm2d: bad input names the op") {
  BatchNorm2d bn(3);
  expect_error([&] { bn.forward(Tensor::zeros({2, 4, 3, 3})); }, {"[batch_norm2d]", "[3]", "[4]"});
  expect_error([] { BatchNorm2d(0); }, {"[BatchNorm2d]", "channels is 0"});
}
