// Tests of SEModule and SCSEModule (layers/se.h): worked examples with every branch exercised, the
// parameter names of the reference, agreement with the composed engine ops (and of SEModule's fused block end
// with its composition), float64 gradient checks.
#include "layers/se.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/add.h"
#include "engine/ops/global_avg_pool.h"
#include "engine/ops/maximum.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "engine/ops/sigmoid.h"
#include "tests/layers/layer_checks.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// x: channel 0 = [1, 3], channel 1 = [-2, 2] (one row of two pixels); channel means 2 and 0.
// fc1 = [1, -1], bias 0: 2 -> relu 2; fc2 = [1, -0.5], bias [0, 0.5]: gates sigmoid(2), sigmoid(-0.5).
void set(Tensor& t, const std::vector<double>& values) { t.copy_from(Tensor::from_vector(values, t.shape(), t.dtype())); }
template <class M>
void set_gate_weights(M& m) {
  set(m.fc1->weight(), {1, -1});
  set(m.fc1->bias(), {0});
  set(m.fc2->weight(), {1, -0.5});
  set(m.fc2->bias(), {0, 0.5});
}
Tensor example_x() { return Tensor::from_vector({1, 3, -2, 2}, {1, 2, 1, 2}, DType::kFloat64); }

std::vector<std::string> names_of(Module& m) {
  std::vector<std::string> out;
  for (auto& [n, t] : m.state_dict_slots()) out.push_back(n);
  return out;
}
}  // namespace

TEST_CASE("SEModule: worked example and parameter names") {
  SEModule se(2, 2);
  CHECK(names_of(se) == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  se.to(DType::kFloat64);
  set_gate_weights(se);
  double a = sig(2), b = sig(-0.5);
  expect_close(se.forward(example_x()), Tensor::from_vector({1 * a, 3 * a, -2 * b, 2 * b}, {1, 2, 1, 2}, DType::kFloat64),
               1e-14, 1e-14, "SE output");
  SEModule se16(64);
  CHECK(se16.fc1->weight().shape() == Shape{4, 64, 1, 1});
}

TEST_CASE("SCSEModule: worked example picks each branch somewhere") {
  SCSEModule scse(2, 2);
  CHECK(names_of(scse) ==
        std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "spatial_se.0.weight"});
  scse.to(DType::kFloat64);
  set_gate_weights(scse);
  // Spatial gate sigmoid(x0 + x1): pixel 0 sigmoid(-1), pixel 1 sigmoid(5).
  set(scse.spatial_conv->weight(), {1, 1});
  // max(x * channel gate, x * spatial gate):
  //   ch0 px0: max(sig(2), sig(-1)) = sig(2)          (channel branch)
  //   ch0 px1: max(3 sig(2), 3 sig(5)) = 3 sig(5)     (spatial branch)
  //   ch1 px0: max(-2 sig(-0.5), -2 sig(-1)) = -2 sig(-1)  (spatial; negative x prefers the smaller gate)
  //   ch1 px1: max(2 sig(-0.5), 2 sig(5)) = 2 sig(5)  (spatial)
  expect_close(scse.forward(example_x()),
               Tensor::from_vector({sig(2), 3 * sig(5), -2 * sig(-1), 2 * sig(5)}, {1, 2, 1, 2}, DType::kFloat64), 1e-14,
               1e-14, "SCSE output");
}

TEST_CASE("SCSEModule: equals the composition of engine ops on random data") {
  // The module uses the fused scse_maxout op, which sums the spatial logit in double (engine/ops/scse.h):
  // in float64 it agrees with the composition to rounding.
  SCSEModule scse(16, 2);
  scse.to(DType::kFloat64);
  Rng rng(41);
  for (Conv2d* c : {scse.fc1.get(), scse.fc2.get(), scse.spatial_conv.get()}) c->reset_parameters(rng);
  Tensor x = random_tensor({2, 16, 5, 7}, 42, DType::kFloat64);
  Tensor gate = sigmoid(scse.fc2->forward(relu(scse.fc1->forward(global_avg_pool(x)))));
  Tensor spatial = sigmoid(conv2d(x, scse.spatial_conv->weight(), Tensor()));
  expect_close(scse.forward(x), maximum(mul(x, gate), mul(x, spatial)), 1e-13, 1e-15, "SCSE vs ops");
}

TEST_CASE("SEModule::forward_add_relu: relu(forward(x) + residual) to the bit, forward and backward") {
  SEModule se(16, 4);
  Rng rng(46);
  se.fc1->reset_parameters(rng);
  se.fc2->reset_parameters(rng);
  const Tensor x0 = random_tensor({2, 16, 5, 7}, 47, DType::kFloat32);
  const Tensor r0 = random_tensor({2, 16, 5, 7}, 48, DType::kFloat32);
  const Tensor weights = random_tensor({2, 16, 5, 7}, 49, DType::kFloat32);
  std::vector<std::vector<double>> grads[2];
  for (int fused = 0; fused < 2; ++fused) {
    se.zero_grad();
    Tensor x = x0.clone(), r = r0.clone();
    x.set_requires_grad(true);
    r.set_requires_grad(true);
    const Tensor y = fused ? se.forward_add_relu(x, r) : relu(add(se.forward(x), r));
    sum(mul(y, weights)).backward();
    grads[fused] = {y.to_vector(), x.grad().to_vector(), r.grad().to_vector(), se.fc1->weight().grad().to_vector(),
                    se.fc2->bias().grad().to_vector()};
  }
  for (size_t k = 0; k < grads[0].size(); ++k) {
    CAPTURE(k);  // 0: output; then the gradients of x, the residual, fc1's weight, fc2's bias
    CHECK(grads[1][k] == grads[0][k]);
  }
  // In inference it writes into x's buffer.
  const NoGradGuard no_grad;
  Tensor x = x0.clone();
  const void* buffer = x.raw();
  const Tensor y = se.forward_add_relu(std::move(x), r0);
  CHECK(y.raw() == buffer);
  CHECK(y.to_vector() == relu(add(se.forward(x0), r0)).to_vector());
}

TEST_CASE("SEModule and SCSEModule: float64 gradient checks of input and parameters") {
  Rng rng(43);
  SUBCASE("SE") {
    SEModule se(8, 4);
    se.to(DType::kFloat64);
    se.fc1->reset_parameters(rng);
    se.fc2->reset_parameters(rng);
    gradcheck_module(se, {random_tensor({2, 8, 3, 4}, 44)}, [&](const std::vector<Tensor>& v) { return se.forward(v[0]); });
  }
  SUBCASE("SCSE") {
    SCSEModule scse(8, 2);
    scse.to(DType::kFloat64);
    for (Conv2d* c : {scse.fc1.get(), scse.fc2.get(), scse.spatial_conv.get()}) c->reset_parameters(rng);
    gradcheck_module(scse, {random_tensor({2, 8, 3, 4}, 45)},
                     [&](const std::vector<Tensor>& v) { return scse.forward(v[0]); });
  }
}

TEST_CASE("SEModule and SCSEModule: a reduction leaving no channel is refused") {
  expect_error([] { SEModule(8, 16); }, {"[SEModule]", "channels 8", "reduction 16"});
  expect_error([] { SCSEModule(1, 2); }, {"[SCSEModule]", "channels 1"});
}
