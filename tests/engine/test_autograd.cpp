// Tests of the autograd tape (engine/autograd.h): recording, accumulation, no-grad scope, detach,
// release of saved tensors, and the errors for a second backward or a non-scalar root.
#include "engine/autograd.h"

#include <memory>

#include "engine/ops/add.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("autograd: a diamond graph sums the gradients of both paths") {
  // z = sum(x*x + relu(x)); dz/dx = 2x + (x > 0).
  Tensor x = Tensor::from_vector({-1.5, 0.5, 2.0}, {3}, DType::kFloat64).set_requires_grad(true);
  Tensor z = sum(add(mul(x, x), relu(x)));
  CHECK(z.item() == doctest::Approx(2.25 + 0.25 + 4.0 + 0.5 + 2.0));
  z.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{-3.0, 2.0, 5.0});
}

TEST_CASE("autograd: gradients accumulate across backward passes until zero_grad") {
  Tensor a = Tensor::from_vector({1, 2}, {2}, DType::kFloat64).set_requires_grad(true);
  Tensor b = Tensor::from_vector({3, 4}, {2}, DType::kFloat64).set_requires_grad(true);
  sum(add(a, b)).backward();  // the add node hands the same tensor to both inputs
  sum(mul(a, b)).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{1 + 3, 1 + 4});
  CHECK(b.grad().to_vector() == std::vector<double>{1 + 1, 1 + 2});
  CHECK_FALSE(a.grad().same_data(b.grad()));
  a.zero_grad();
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("autograd: only inputs that require a gradient are recorded") {
  Tensor w = Tensor::from_vector({2, 3}, {2}).set_requires_grad(true);
  Tensor c = Tensor::from_vector({5, 7}, {2});
  Tensor y = mul(w, c);
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  CHECK(std::string(y.grad_fn()->name()) == "mul");
  CHECK_FALSE(mul(c, c).requires_grad());
  sum(y).backward();
  CHECK(w.grad().to_vector() == std::vector<double>{5, 7});
  CHECK_FALSE(c.grad().defined());
}

TEST_CASE("autograd: no-grad scope and detach cut the tape") {
  Tensor x = Tensor::from_vector({1, -2}, {2}).set_requires_grad(true);
  {
    NoGradGuard no_grad;
    CHECK_FALSE(grad_enabled());
    Tensor y = relu(x);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
  }
  CHECK(grad_enabled());
  Tensor d = relu(x).detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  Tensor y = mul(x, d);  // d is a constant: only x gets a gradient
  sum(y).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{1, 0});
}

TEST_CASE("autograd: saved tensors are released by backward") {
  Tensor x = Tensor::from_vector({1, -2, 3}, {3}).set_requires_grad(true);
  Tensor y = relu(x);  // relu saves its output
  std::weak_ptr<Storage> saved = y.impl().storage;
  Tensor loss = sum(mul(y, y));
  y = Tensor();
  CHECK_FALSE(saved.expired());  // still held by the graph
  loss.backward();
  CHECK(saved.expired());
}

TEST_CASE("autograd: errors for a second backward, a non-scalar root, a constant root") {
  Tensor x = Tensor::from_vector({1, 2}, {2}).set_requires_grad(true);
  Tensor y = relu(x);
  Tensor loss = sum(y);
  loss.backward();
  expect_error([&] { loss.backward(); }, {"[backward]", "called twice"});
  Tensor other = sum(mul(y, y));  // shares the freed relu node
  expect_error([&] { other.backward(); }, {"[backward]", "already been run"});
  expect_error([&] { relu(x).backward(); }, {"[backward]", "one-element", "[2]"});
  expect_error([] { sum(Tensor::ones({2})).backward(); }, {"[backward]", "does not require a gradient"});
  expect_error([&] { y.set_requires_grad(false); }, {"leaf", "relu"});
  expect_error([] { Tensor::zeros({2}, DType::kInt64).set_requires_grad(true); }, {"floating-point"});
}

TEST_CASE("autograd: backward from a leaf scalar sets its gradient to one") {
  Tensor s = Tensor::from_vector({3}, {}).set_requires_grad(true);
  s.backward();
  CHECK(s.grad().item() == 1.0);
}
