// Tests of relu (engine/ops/relu.h): worked example, float64 gradient check, the backward kernels on a
// bfloat16 output, CPU-vs-CUDA parity, bad input.
#include "engine/ops/relu.h"

#include <limits>

#include "engine/autograd.h"
#include "engine/ops/add.h"
#include "engine/ops/bf16_storage.h"
#include "engine/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("relu: worked example, forward and backward") {
  Tensor x = Tensor::from_vector({-2.0, -0.5, 0.0, 0.25, 3.0, -1.0}, {2, 3});
  x.set_requires_grad(true);
  Tensor y = relu(x);
  CHECK(y.to_vector() == std::vector<double>{0.0, 0.0, 0.0, 0.25, 3.0, 0.0});
  sum(y).backward();
  // d sum(relu(x)) / dx = 1 where x > 0, 0 elsewhere (0 at x == 0, as PyTorch).
  CHECK(x.grad().to_vector() == std::vector<double>{0.0, 0.0, 0.0, 1.0, 1.0, 0.0});
}

TEST_CASE("relu: float64 gradient check") {
  // Values kept at least 0.05 from the kink at 0, so central differences never straddle it.
  Tensor x = random_tensor({2, 3, 5, 7}, 11, DType::kFloat64, 0.05, 1.0);
  std::vector<double> v = x.to_vector();
  Rng signs(12);
  for (double& e : v) e = signs.uniform() < 0.5 ? -e : e;
  x = Tensor::from_vector(v, x.shape(), DType::kFloat64);
  check_gradients([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x});
}

namespace {

// relu_bwd's kernels on y's device: grad_x for this output and incoming gradient.
Tensor masked(const Tensor& y, const Tensor& grad_y) {
  Tensor grad_x = Tensor::empty_like(grad_y);
  if (y.device().is_cuda()) {
    cuda::relu_bwd(y, grad_y, grad_x);
  } else {
    cpu::relu_bwd(y, grad_y, grad_x);
  }
  return grad_x;
}

// Outputs with both zeros, NaNs of both signs, tiny and large values, and random ones; their gradient.
std::pair<Tensor, Tensor> mask_inputs() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> y = {-1.0, 0.0, -0.0, 2.0, nan, -nan, 1e-30, -1e-30, 3e38};
  const std::vector<double> r = random_tensor({1000}, 16, DType::kFloat64).to_vector();
  y.insert(y.end(), r.begin(), r.end());
  const auto n = static_cast<int64_t>(y.size());
  return {Tensor::from_vector(y, {n}), random_tensor({n}, 17, DType::kFloat32)};
}

}  // namespace

TEST_CASE("relu: the backward kernels read a bfloat16 output as its float32 value") {
  const Tensor y = Tensor::from_vector({-1.0, 0.0, 2.0, std::numeric_limits<double>::quiet_NaN()}, {4});
  const Tensor g = Tensor::from_vector({1.0, 2.0, 3.0, 4.0}, {4});
  CHECK(masked(to_bf16_storage(y), g).to_vector() == std::vector<double>{0.0, 0.0, 3.0, 0.0});
  const auto [y32, grad] = mask_inputs();
  const Tensor y16 = to_bf16_storage(y32);
  CHECK(masked(y16, grad).to_vector() == masked(from_bf16_storage(y16), grad).to_vector());
}

TEST_CASE("relu: a temporary that nothing records is overwritten, anything else is not") {
  const Tensor x = random_tensor({2, 3, 4, 5}, 14, DType::kFloat32);
  const std::vector<double> expected = relu(x).to_vector();
  {
    const NoGradGuard no_grad;
    Tensor temporary = x.clone();
    const void* buffer = temporary.raw();
    Tensor y = relu(std::move(temporary));
    CHECK(y.raw() == buffer);  // the temporary's buffer, not a new one
    CHECK(y.to_vector() == expected);
    // x is shared (the caller keeps it): a new output, x unchanged.
    const std::vector<double> before = x.to_vector();
    Tensor shared = x;
    Tensor z = relu(std::move(shared));
    CHECK(z.raw() != x.raw());
    CHECK(x.to_vector() == before);
    // A view shares the data too.
    Tensor base = x.clone();
    Tensor y2 = relu(base.view({6, 20}));
    CHECK(y2.raw() != base.raw());
    CHECK(base.to_vector() == before);
  }
  // In grad mode a temporary that requires a gradient is recorded, so it is not overwritten.
  Tensor leaf = x.clone();
  leaf.set_requires_grad(true);
  Tensor y = relu(add(leaf, leaf));
  sum(y).backward();
  std::vector<double> g = leaf.grad().to_vector(), v = x.to_vector();
  for (size_t i = 0; i < v.size(); ++i) CHECK(g[i] == (v[i] > 0 ? 2.0 : 0.0));
}

TEST_CASE("relu: bad input") {
  expect_error([] { relu(Tensor::zeros({2, 2}, DType::kUInt8)); }, {"[relu]", "uint8", "float32"});
  expect_error([] { relu(Tensor()); }, {"[relu]", "undefined"});
}

TEST_CASE("relu: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_cuda_parity([](const std::vector<Tensor>& in) { return relu(in[0]); },
                    {random_tensor({3, 5, 7, 9}, 13, DType::kFloat32)}, "relu");
}

TEST_CASE("relu: in place on a CUDA temporary equals the CPU" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Tensor x = random_tensor({3, 5, 7, 9}, 15, DType::kFloat32);
  const NoGradGuard no_grad;
  Tensor temporary = x.to(Device::cuda());
  const void* buffer = temporary.raw();
  Tensor y = relu(std::move(temporary));
  CHECK(y.raw() == buffer);
  CHECK(y.to_vector() == relu(x).to_vector());
}

TEST_CASE("relu: the backward kernels on a bfloat16 output, CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const auto [y32, grad] = mask_inputs();
  const Tensor y16 = to_bf16_storage(y32);
  CHECK(masked(y16.to(Device::cuda()), grad.to(Device::cuda())).to_vector() == masked(y16, grad).to_vector());
}
