// Tests of the autograd tape (engine/autograd.h): recording, accumulation, no-grad scope, detach,
// release of saved tensors, the errors for a second backward or a non-scalar root, and the
// gradient-ready hook (a small graph by hand, AlbuNet's parameters).
#include "engine/autograd.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "engine/ops/add.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "models/registry.h"
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

namespace {

// A node whose backward hands out a given tensor as its input's gradient.
class HandOut : public Node {
 public:
  explicit HandOut(Tensor given, const void** data_out) : given_(std::move(given)), data_out_(data_out) {}
  std::vector<Tensor> apply(const Tensor&) override {
    Tensor g = given_.defined() ? given_ : Tensor::full({3}, 0.5, DType::kFloat64);
    *data_out_ = g.raw();
    return {g};
  }
  void release_saved() override {}
  const char* name() const override { return "hand_out"; }

 private:
  Tensor given_;
  const void** data_out_;
};

Tensor through(const Tensor& x, Tensor given, const void** data_out) {
  Tensor out = Tensor::zeros({}, DType::kFloat64);
  attach_node(out, {&x}, std::make_shared<HandOut>(std::move(given), data_out));
  return out;
}

}  // namespace

TEST_CASE("autograd: a leaf's first gradient is taken without a copy unless someone else holds it") {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}, DType::kFloat64).set_requires_grad(true);
  const void* handed = nullptr;
  through(x, Tensor{}, &handed).backward();  // a fresh tensor, held by nobody else: taken as it is
  CHECK(x.grad().raw() == handed);
  CHECK(x.grad().to_vector() == std::vector<double>{0.5, 0.5, 0.5});
  x.zero_grad();
  // The caller keeps the tensor it hands out: x gets a copy, so later changes to either stay apart.
  Tensor kept = Tensor::from_vector({4, 5, 6}, {3}, DType::kFloat64);
  through(x, kept, &handed).backward();
  CHECK(x.grad().raw() != kept.raw());
  kept.data<double>()[0] = 40;
  CHECK(x.grad().to_vector() == std::vector<double>{4, 5, 6});
  // A view of another tensor's memory is copied too.
  x.zero_grad();
  Tensor base = Tensor::from_vector({7, 8, 9}, {1, 3}, DType::kFloat64);
  through(x, base.view({3}), &handed).backward();
  CHECK(x.grad().raw() != base.raw());
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

namespace {

// Records what a GradReadyHook is told: the passes' leaves, and each ready leaf with a copy of its
// gradient at that moment.
struct RecordingHook final : GradReadyHook {
  std::vector<std::vector<TensorImpl*>> graphs;
  std::vector<TensorImpl*> ready;
  std::vector<Tensor> grad_when_ready;
  void on_graph(const std::vector<TensorImpl*>& leaves) override { graphs.push_back(leaves); }
  void on_ready(TensorImpl* leaf) override {
    ready.push_back(leaf);
    grad_when_ready.push_back(Tensor(leaf->grad).clone());
  }
};

std::set<TensorImpl*> as_set(const std::vector<TensorImpl*>& leaves) { return {leaves.begin(), leaves.end()}; }

}  // namespace

TEST_CASE("autograd: the ready hook reports a leaf used twice only after both contributions, in backward's order") {
  // loss = sum(x*w*v + x): the add node hands x its first part (ones) before the products run; v is
  // final after the outer mul, x and w after the inner one. Order: v, then x and w (the inner mul's inputs).
  Tensor x = random_tensor({4}, 71).set_requires_grad(true);
  Tensor w = random_tensor({4}, 72).set_requires_grad(true);
  Tensor v = random_tensor({4}, 73).set_requires_grad(true);
  Tensor unused = random_tensor({4}, 74).set_requires_grad(true);
  Tensor loss = sum(add(mul(mul(x, w), v), x));
  RecordingHook hook;
  {
    BackwardHookScope scope(hook);
    loss.backward();
  }
  REQUIRE(hook.graphs.size() == 1);
  CHECK(as_set(hook.graphs[0]) == std::set<TensorImpl*>{&x.impl(), &w.impl(), &v.impl()});
  REQUIRE(hook.ready == std::vector<TensorImpl*>{&v.impl(), &x.impl(), &w.impl()});
  // x's gradient when reported: both parts, 1 + w*v, which is its final value.
  const std::vector<double> wv = mul(w, v).detach().to_vector();
  const std::vector<double> gx = hook.grad_when_ready[1].to_vector();
  for (size_t i = 0; i < wv.size(); ++i) CHECK(gx[i] == 1.0 + wv[i]);
  for (size_t k = 0; k < hook.ready.size(); ++k)
    CHECK(hook.grad_when_ready[k].to_vector() == Tensor(hook.ready[k]->grad).to_vector());
  CHECK_FALSE(unused.grad().defined());

  // Out of the scope nothing is reported; a leaf root is its own graph.
  Tensor again = sum(mul(x, w));
  again.backward();
  CHECK(hook.ready.size() == 3);
  Tensor s = Tensor::from_vector({2}, {}).set_requires_grad(true);
  BackwardHookScope scope(hook);
  s.backward();
  CHECK(hook.graphs.back() == std::vector<TensorImpl*>{&s.impl()});
  CHECK(hook.ready.back() == &s.impl());
}

TEST_CASE("autograd: nested hook scopes restore the hook installed before") {
  Tensor x = random_tensor({3}, 75).set_requires_grad(true);
  RecordingHook outer, inner;
  BackwardHookScope outer_scope(outer);
  {
    BackwardHookScope inner_scope(inner);
    sum(mul(x, x)).backward();
  }
  sum(relu(x)).backward();
  CHECK(inner.ready == std::vector<TensorImpl*>{&x.impl()});
  CHECK(outer.ready == std::vector<TensorImpl*>{&x.impl()});
  CHECK(outer.graphs.size() == 1);
}

TEST_CASE("autograd: every AlbuNet parameter is reported ready once, with its final gradient") {
  std::shared_ptr<Model> model = make_model("albunet", 7);
  // A frozen parameter gets no gradient and is not reported.
  Tensor* frozen = model->parameters().front();
  frozen->set_requires_grad(false);
  const Tensor images = random_tensor({2, 3, 64, 64}, 76, DType::kFloat32);
  const Tensor weights = random_tensor({2, 1, 64, 64}, 77, DType::kFloat32);
  Tensor loss = sum(mul(model->forward(images), weights));
  RecordingHook hook;
  {
    BackwardHookScope scope(hook);
    loss.backward();
  }
  std::map<TensorImpl*, size_t> reported;
  for (size_t k = 0; k < hook.ready.size(); ++k) {
    CHECK(reported.count(hook.ready[k]) == 0);
    reported[hook.ready[k]] = k;
  }
  REQUIRE(hook.graphs.size() == 1);
  CHECK(as_set(hook.graphs[0]) == as_set(hook.ready));
  int with_grad = 0;
  for (Tensor* p : model->parameters()) {
    if (!p->grad().defined()) {
      CHECK(reported.count(&p->impl()) == 0);
      continue;
    }
    ++with_grad;
    REQUIRE(reported.count(&p->impl()) == 1);
    const Tensor& then = hook.grad_when_ready[reported[&p->impl()]];
    CHECK(std::memcmp(then.raw(), p->grad().raw(), then.nbytes()) == 0);
  }
  CHECK(reported.count(&frozen->impl()) == 0);
  CHECK(with_grad + 1 == static_cast<int>(model->parameters().size()));
  CHECK(static_cast<int>(hook.ready.size()) == with_grad);
  // Backward finishes the decoder before the encoder: the last parameter (the final conv) before the second.
  const auto position = [&](Tensor* p) { return reported.at(&p->impl()); };
  CHECK(position(model->parameters().back()) < position(model->parameters()[1]));
}
