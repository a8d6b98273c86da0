// Whole-network tests on TinyNet (tiny_net.h): a float64 gradient check of every parameter and the
// input, an overfit of one batch with plain SGD (the loss must fall at least 10x), and the same three
// training steps on the CPU and on CUDA ending within 1e-4.
#include "tests/models/tiny_net.h"

#include "engine/autograd.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("tiny net: float64 gradient check of the whole graph") {
  TinyNet net = TinyNet::make(101, DType::kFloat64);
  std::vector<Tensor> inputs = {random_tensor({2, 3, 8, 10}, 102)};
  for (Tensor* p : net.params()) inputs.push_back(p->detach());
  GradCheckOptions opt;
  opt.max_checks = 24;
  // Through a dozen ops, float64 rounding leaves the central difference an absolute noise of about
  // 1e-8, so each element is judged against the largest gradient of its input (max-norm relative
  // error) rather than against its own, possibly tiny, value.
  opt.floor_fraction = 1.0;
  check_gradients(
      [&](const std::vector<Tensor>& in) {
        std::vector<Tensor> p(in.begin() + 1, in.end());
        return net.forward(in[0], p);
      },
      inputs, opt);
}

TEST_CASE("tiny net: plain SGD overfits one batch (loss falls at least 10x)") {
  TinyNet net = TinyNet::make(103, DType::kFloat32);
  Tensor x = random_tensor({2, 3, 16, 16}, 104, DType::kFloat32);
  // The target is what another TinyNet computes: reachable by the student, unlike random noise.
  Tensor target;
  {
    NoGradGuard no_grad;
    target = TinyNet::make(105, DType::kFloat32).forward(x);
  }
  double first = 0, last = 0;
  for (int step = 0; step < 2000; ++step) {
    Tensor loss = mse(net.forward(x), target);
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    sgd_step(net.params(), 0.05);
  }
  INFO("loss ", first, " -> ", last);
  CHECK(last * 10 <= first);
}

TEST_CASE("tiny net: three training steps on CPU and CUDA end within 1e-4" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  TinyNet cpu_net = TinyNet::make(106, DType::kFloat32);
  TinyNet gpu_net = cpu_net.to(Device::cuda());
  Tensor x = random_tensor({2, 3, 18, 14}, 107, DType::kFloat32);
  Tensor target = random_tensor({2, 1, 18, 14}, 108, DType::kFloat32, 0.0, 1.0);
  Tensor xg = x.to(Device::cuda()), tg = target.to(Device::cuda());
  for (int step = 0; step < 3; ++step) {
    Tensor lc = mse(cpu_net.forward(x), target);
    Tensor lg = mse(gpu_net.forward(xg), tg);
    CHECK(parity_error(lg, lc) <= 1e-4);
    lc.backward();
    lg.backward();
    sgd_step(cpu_net.params(), 0.05);
    sgd_step(gpu_net.params(), 0.05);
  }
  std::vector<Tensor*> pc = cpu_net.params(), pg = gpu_net.params();
  for (size_t i = 0; i < pc.size(); ++i) CHECK_MESSAGE(parity_error(*pg[i], *pc[i]) <= 1e-4, "parameter ", i);
  CHECK(parity_error(gpu_net.running_mean, cpu_net.running_mean) <= 1e-4);
  CHECK(parity_error(gpu_net.running_var, cpu_net.running_var) <= 1e-4);
}
