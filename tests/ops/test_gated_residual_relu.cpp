// Tests of gated_residual_relu (engine/ops/gated_residual_relu.h): a hand-worked example with its gradients,
// the same bits as mul, add and relu (forward and backward, float32 and float64, with and without a residual
// that needs a gradient), float64 gradient check, in place in inference, NaN, bad input, CPU-vs-CUDA parity.
#include "engine/ops/gated_residual_relu.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/add.h"
#include "engine/ops/bf16_storage.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

Tensor fused(const std::vector<Tensor>& in) { return gated_residual_relu(in[0], in[1], in[2]); }
Tensor composed(const std::vector<Tensor>& in) { return relu(add(mul(in[0], in[1]), in[2])); }

// x, gate, residual for [N, C, H, W]; the gate in (-0.5, 2) so that both signs of the product occur.
std::vector<Tensor> random_inputs(const Shape& shape, uint64_t seed, DType dtype) {
  return {random_tensor(shape, seed, dtype), random_tensor({shape[0], shape[1], 1, 1}, seed + 1, dtype, -0.5, 2.0),
          random_tensor(shape, seed + 2, dtype)};
}

// Copies of `in`, detached, each requiring a gradient where `grads` says.
std::vector<Tensor> leaves(const std::vector<Tensor>& in, const std::vector<bool>& grads) {
  std::vector<Tensor> out;
  for (size_t k = 0; k < in.size(); ++k) {
    out.push_back(in[k].detach().clone());
    out.back().set_requires_grad(grads[k]);
  }
  return out;
}


// The gradients gated_residual_relu_bwd's kernels give on x's device: [grad_sum, grad_x, grad_gate]. x and y
// float32, or bfloat16 copies.
std::vector<Tensor> bwd_kernels(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& grad_y) {
  Tensor gs = Tensor::empty_like(grad_y), gx = Tensor::empty_like(grad_y), gg = Tensor::empty_like(gate);
  if (x.device().is_cuda())
    cuda::gated_residual_relu_bwd(x, gate, y, grad_y, &gs, &gx, &gg);
  else
    cpu::gated_residual_relu_bwd(x, gate, y, grad_y, &gs, &gx, &gg);
  return {gs, gx, gg};
}

// x and y as bfloat16 copies or not, in the four combinations, against both float32: the same bits.
void check_bf16_copies_read_as_values(Device dev) {
  const Shape shape{2, 3, 5, 7};
  const Tensor x16 = to_bf16_storage(random_tensor(shape, 91, DType::kFloat32, -3.0, 3.0));
  const Tensor y16 = to_bf16_storage(random_tensor(shape, 92, DType::kFloat32, -1.0, 2.0));  // both signs
  const Tensor x32 = from_bf16_storage(x16), y32 = from_bf16_storage(y16);
  const Tensor gate = random_tensor({2, 3, 1, 1}, 93, DType::kFloat32, -0.5, 2.0).to(dev);
  const Tensor grad_y = random_tensor(shape, 94, DType::kFloat32).to(dev);
  const std::vector<Tensor> want = bwd_kernels(x32.to(dev), gate, y32.to(dev), grad_y);
  for (const Tensor& x : {x16, x32})
    for (const Tensor& y : {y16, y32}) {
      if (x.dtype() == DType::kFloat32 && y.dtype() == DType::kFloat32) continue;
      const std::vector<Tensor> got = bwd_kernels(x.to(dev), gate, y.to(dev), grad_y);
      for (size_t k = 0; k < 3; ++k) CHECK(got[k].to_vector() == want[k].to_vector());
    }
}
}  // namespace

TEST_CASE("gated_residual_relu: worked example and its gradients") {
  // N = 1, C = 2, H = 1, W = 2. Channel 0: x = [1, -2], gate 3, residual [0.5, 1]: sums [3.5, -5], y = [3.5, 0].
  // Channel 1: x = [4, 0.5], gate -0.25, residual [2, -1]: sums [1, -1.125], y = [1, 0].
  const Tensor x = Tensor::from_vector({1, -2, 4, 0.5}, {1, 2, 1, 2});
  const Tensor gate = Tensor::from_vector({3, -0.25}, {1, 2, 1, 1});
  const Tensor residual = Tensor::from_vector({0.5, 1, 2, -1}, {1, 2, 1, 2});
  std::vector<Tensor> in = leaves({x, gate, residual}, {true, true, true});
  const Tensor y = fused(in);
  CHECK(y.to_vector() == std::vector<double>{3.5, 0, 1, 0});
  // grad_y = [1, 2, 3, 4]: the live elements pass theirs, 1 and 3 (sum's mask [1, 0, 1, 0]).
  sum(mul(y, Tensor::from_vector({1, 2, 3, 4}, {1, 2, 1, 2}))).backward();
  CHECK(in[2].grad().to_vector() == std::vector<double>{1, 0, 3, 0});
  CHECK(in[0].grad().to_vector() == std::vector<double>{3, 0, -0.75, 0});  // masked grad_y * gate
  CHECK(in[1].grad().to_vector() == std::vector<double>{1, 12});           // sums of masked grad_y * x
}

TEST_CASE("gated_residual_relu: the same bits as relu(add(mul(x, gate), residual)), both ways") {
  uint64_t seed = 101;
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (const std::vector<bool>& grads : {std::vector<bool>{true, true, true}, {true, true, false}, {false, true, false}}) {
      CAPTURE(dtype_name(dt));
      CAPTURE(grads[0]);
      CAPTURE(grads[2]);
      const std::vector<Tensor> in = random_inputs({2, 5, 7, 9}, seed, dt);
      const Tensor weights = random_tensor({2, 5, 7, 9}, seed + 3, dt);
      seed += 10;
      std::vector<Tensor> a = leaves(in, grads), b = leaves(in, grads);
      const Tensor ya = fused(a), yb = composed(b);
      CHECK(ya.to_vector() == yb.to_vector());
      sum(mul(ya, weights)).backward();
      sum(mul(yb, weights)).backward();
      for (size_t k = 0; k < 3; ++k) {
        CAPTURE(k);
        REQUIRE(a[k].grad().defined() == grads[k]);
        if (grads[k]) CHECK(a[k].grad().to_vector() == b[k].grad().to_vector());
      }
    }
  }
}

TEST_CASE("gated_residual_relu: float64 gradient check") {
  check_gradients(fused, random_inputs({2, 3, 4, 5}, 121, DType::kFloat64));
  check_gradients(fused, random_inputs({1, 1, 1, 3}, 131, DType::kFloat64));
}

TEST_CASE("gated_residual_relu: in place on a temporary in inference, and not where a gradient is needed") {
  const std::vector<Tensor> in = random_inputs({2, 4, 6, 5}, 141, DType::kFloat32);
  const std::vector<double> expected = fused(in).to_vector(), x_before = in[0].to_vector();
  {
    const NoGradGuard no_grad;
    Tensor temporary = in[0].clone();
    const void* buffer = temporary.raw();
    const Tensor y = gated_residual_relu(std::move(temporary), in[1], in[2]);
    CHECK(y.raw() == buffer);
    CHECK(y.to_vector() == expected);
    Tensor shared = in[0];
    const Tensor other = gated_residual_relu(std::move(shared), in[1], in[2]);
    CHECK(other.raw() != in[0].raw());
    CHECK(in[0].to_vector() == x_before);
    expect_error([&] { gated_residual_relu(in[0].clone(), in[1], Tensor::zeros({2, 4, 6, 4})); },
                 {"[gated_residual_relu]", "residual", "[2, 4, 6, 4]"});
  }
  // x without a gradient, the residual with one: the op is recorded, so the residual gets its gradient.
  std::vector<Tensor> mixed = leaves(in, {false, false, true});
  sum(gated_residual_relu(mixed[0].clone(), mixed[1], mixed[2])).backward();
  REQUIRE(mixed[2].grad().defined());
  const std::vector<double> y = expected, g = mixed[2].grad().to_vector();
  for (size_t i = 0; i < y.size(); ++i) CHECK(g[i] == (y[i] > 0 ? 1.0 : 0.0));
}

TEST_CASE("gated_residual_relu: NaN passes to the output of its element only") {
  std::vector<Tensor> in = random_inputs({1, 2, 3, 3}, 151, DType::kFloat32);
  in[2].data<float>()[4] = NAN;
  const std::vector<double> y = fused(in).to_vector();
  for (size_t i = 0; i < y.size(); ++i) CHECK(std::isnan(y[i]) == (i == 4));
}

TEST_CASE("gated_residual_relu: bad input") {
  const std::vector<Tensor> ok = random_inputs({2, 3, 4, 4}, 161, DType::kFloat32);
  auto with = [&](size_t k, Tensor t) {
    std::vector<Tensor> in = ok;
    in[k] = std::move(t);
    return in;
  };
  expect_error([&] { fused(with(1, Tensor::zeros({2, 3, 4, 4}))); },
               {"[gated_residual_relu]", "gate has shape [2, 3, 4, 4]", "expected [2, 3, 1, 1]"});
  expect_error([&] { fused(with(1, Tensor::zeros({1, 3, 1, 1}))); }, {"[gated_residual_relu]", "[1, 3, 1, 1]"});
  expect_error([&] { fused(with(2, Tensor::zeros({2, 3, 4, 5}))); },
               {"[gated_residual_relu]", "residual", "[2, 3, 4, 5]", "[2, 3, 4, 4]"});
  expect_error([&] { fused(with(2, Tensor::zeros({2, 3, 4, 4}, DType::kFloat64))); },
               {"[gated_residual_relu]", "residual", "float64"});
  expect_error([&] { fused(with(0, Tensor::zeros({2, 3, 16}))); }, {"[gated_residual_relu]", "x", "3 dims"});
  expect_error([&] { fused(with(0, Tensor::zeros({2, 3, 4, 4}, DType::kInt64))); }, {"[gated_residual_relu]", "int64"});
}

TEST_CASE("gated_residual_relu: the backward kernels read bfloat16 copies of x and y as their float32 values") {
  check_bf16_copies_read_as_values(Device::cpu());
}

TEST_CASE("gated_residual_relu: the backward kernels on bfloat16 copies, CUDA's bits for their float32 values" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_bf16_copies_read_as_values(Device::cuda());
}

TEST_CASE("gated_residual_relu: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  uint64_t seed = 171;
  // An SE-ResNeXt stage-4 block at 256x256 input (2048 channels of 8x8), an odd small one, a plane larger than
  // a block's stride.
  for (const Shape& shape : {Shape{2, 2048, 8, 8}, Shape{3, 5, 7, 9}, Shape{1, 3, 40, 33}}) {
    for (bool wide : {false, true}) {
      const WideIndicesScope indices(wide);
      std::vector<Tensor> in = random_inputs(shape, seed, DType::kFloat32);
      seed += 10;
      check_cuda_parity(fused, in, cat("gated_residual_relu ", shape.str(), wide ? " wide" : ""));
      check_cuda_parity(fused, in, cat("gated_residual_relu without the residual's gradient ", shape.str()),
                        {.requires_grad = {true, true, false}});
    }
  }
}
