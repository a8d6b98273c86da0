// Tests of CapturedSteps (train/captured_steps.h): on the CPU every call runs the batch as it is, with the
// same results as plain calls; the host counters (BatchNorm2d's num_batches_tracked) follow the first
// call's advance whatever later calls run on the host (a replay runs nothing there); a host buffer that is
// not a counter is refused. The CUDA graph itself: tests/tools/test_tools_cuda.cpp (gpu suite) trains with
// and without it.
#include "train/captured_steps.h"

#include "engine/autograd.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "layers/batchnorm.h"
#include "layers/conv.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

// conv -> batch norm -> batch norm: two host counters.
struct Net : Module {
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  explicit Net(uint64_t seed) {
    conv = register_module("conv", std::make_shared<Conv2d>(2, 3, 3, Bias::kWith, Conv2dParams{.pad_h = 1, .pad_w = 1}));
    bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(3));
    bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(3));
    Rng rng(seed);
    conv->reset_parameters(rng);
  }
  Tensor forward(const Tensor& x) { return bn2->forward(bn1->forward(conv->forward(x))); }
};

int64_t tracked(BatchNorm2d& bn) { return bn.num_batches_tracked().data<int64_t>()[0]; }

// A training batch: forward, loss, backward, a plain SGD update (on the CPU's memory), gradients dropped.
Tensor sgd_batch(Net& net, const Tensor& images, const Tensor& targets) {
  Tensor loss = mean(mul(net.forward(images), targets));
  loss.backward();
  for (Tensor* p : net.parameters()) {
    const float* g = p->grad().data<float>();
    float* w = p->data<float>();
    for (int64_t i = 0; i < p->numel(); ++i) w[i] -= 0.01f * g[i];
    p->zero_grad();
  }
  return loss.detach();
}

}  // namespace

TEST_CASE("captured steps: on the CPU each call runs the batch, with the results of plain calls") {
  Net captured_net(11), plain_net(11);
  CapturedSteps steps(captured_net, [&](const Tensor& x, const Tensor& t) { return sgd_batch(captured_net, x, t); }, {});
  for (uint64_t k = 0; k < 3; ++k) {
    const Tensor images = random_tensor({2, 2, 5, 4}, 100 + k, DType::kFloat32);
    const Tensor targets = random_tensor({2, 3, 5, 4}, 200 + k, DType::kFloat32);
    CHECK(steps(images, targets).to_vector() == sgd_batch(plain_net, images, targets).to_vector());
  }
  for (size_t i = 0; i < plain_net.parameters().size(); ++i)
    CHECK(captured_net.parameters()[i]->to_vector() == plain_net.parameters()[i]->to_vector());
  CHECK(captured_net.bn1->running_mean().to_vector() == plain_net.bn1->running_mean().to_vector());
  CHECK(tracked(*captured_net.bn1) == 3);
  CHECK(tracked(*captured_net.bn2) == 3);
  CHECK(steps.replays() == 0);  // no graph on the CPU
  CHECK_FALSE(steps.captured());
}

TEST_CASE("captured steps: host counters advance by the first call's amount, whatever later calls run") {
  Net net(12);
  // What the host side of each call does to bn1's counter: +1 as a plain batch; nothing, as a replay; +2,
  // as a capture that failed and ran the batch again as it is. bn2's counter is never touched after the
  // first call's +3.
  const std::vector<int> host_increments = {1, 0, 2, 1, 0};
  size_t call = 0;
  CapturedSteps steps(net, [&](const Tensor& x, const Tensor&) {
    net.bn1->num_batches_tracked().data<int64_t>()[0] += host_increments[call];
    if (call == 0) net.bn2->num_batches_tracked().data<int64_t>()[0] += 3;
    ++call;
    return sum(x);
  }, {});
  const Tensor x = random_tensor({1, 2, 3, 3}, 5, DType::kFloat32);
  for (size_t k = 0; k < host_increments.size(); ++k) {
    steps(x, x);
    CAPTURE(k);
    CHECK(tracked(*net.bn1) == static_cast<int64_t>(k) + 1);
    CHECK(tracked(*net.bn2) == 3 * (static_cast<int64_t>(k) + 1));
  }
}

TEST_CASE("captured steps: a host buffer that is not a one-element int64 counter is refused") {
  struct Odd : Module {
    Odd() { register_buffer("scale", Tensor::ones({2}), BufferPlacement::kHost); }
  } odd;
  expect_error([&] { CapturedSteps steps(odd, [](const Tensor& x, const Tensor&) { return x; }, {}); },
               {"[cuda graphs]", "float32[2]", "not a one-element int64 counter"});
}
