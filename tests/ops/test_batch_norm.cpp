// Tests of batch_norm2d and batch_norm2d_relu (engine/ops/batch_norm.h): worked examples (training with the
// running-stat update, eval), float64 gradient checks, the fused ReLU and residual against batch_norm2d,
// add and relu (the same bits, forward and backward), synchronised batch norm over two identical ranks
// against one batch holding both, CPU-vs-CUDA parity with running stats (plain and synchronised), bad input.
// Synchronised batch norm on real ranks: tests/mpi/test_mpi_training.cpp.
#include "engine/ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "engine/parallel.h"
#include "engine/autograd.h"
#include "engine/ops/add.h"
#include "engine/ops/bf16_storage.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"
#include "tests/twin_ranks.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
BatchNormParams training_params() { return BatchNormParams{}; }
BatchNormParams eval_params() {
  BatchNormParams p;
  p.training = false;
  return p;
}

// [x; x] along the batch dimension.
Tensor twice_along_batch(const Tensor& x) {
  std::vector<double> v = x.to_vector();
  v.insert(v.end(), v.begin(), v.end());
  Shape s = x.shape();
  return Tensor::from_vector(v, Shape{2 * s[0], s[1], s[2], s[3]}, x.dtype()).to(x.device());
}

// The first half of a tensor along the batch dimension.
Tensor first_half_along_batch(const Tensor& x) {
  std::vector<double> v = x.to_vector();
  v.resize(v.size() / 2);
  Shape s = x.shape();
  return Tensor::from_vector(v, Shape{s[0] / 2, s[1], s[2], s[3]}, x.dtype());
}

struct BatchNormRun {
  Tensor y, grad_x, grad_w, grad_b, running_mean, running_var;
};

// batch_norm2d in training with p.sync = `sync`, then a backward pass of sum(y * g), on x's device.
BatchNormRun run_batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& g, Communicator* sync) {
  const int64_t c = x.size(1);
  BatchNormRun r;
  r.running_mean = random_tensor({c}, 71, x.dtype(), -0.5, 0.5).to(x.device());
  r.running_var = random_tensor({c}, 72, x.dtype(), 0.5, 2.0).to(x.device());
  Tensor xl = x.clone().set_requires_grad(true), wl = w.clone().set_requires_grad(true);
  Tensor bl = b.clone().set_requires_grad(true);
  BatchNormParams p;
  p.sync = sync;
  r.y = batch_norm2d(xl, wl, bl, r.running_mean, r.running_var, p);
  sum(mul(r.y, g)).backward();
  r.grad_x = xl.grad();
  r.grad_w = wl.grad();
  r.grad_b = bl.grad();
  return r;
}

// The gradients batch_norm_bwd's kernels give on x's device, for x (float32, or a bfloat16 copy) and grad_y,
// with random statistics and weight (fixed seeds): [grad_x, grad_weight, grad_bias].
std::vector<Tensor> bwd_kernels(const Tensor& x, const Tensor& grad_y, bool training) {
  const int64_t c = x.size(1);
  const Device dev = x.device();
  const Tensor w = random_tensor({c}, 81, DType::kFloat32, 0.5, 1.5).to(dev);
  const Tensor mean = random_tensor({c}, 82, DType::kFloat32, -0.5, 0.5).to(dev);
  const Tensor invstd = random_tensor({c}, 83, DType::kFloat32, 0.5, 2.0).to(dev);
  Tensor gx = Tensor::empty(x.shape(), DType::kFloat32, dev), gw = Tensor::empty_like(w), gb = Tensor::empty_like(w);
  if (dev.is_cuda())
    cuda::batch_norm_bwd(x, w, mean, invstd, training, nullptr, grad_y, &gx, &gw, &gb);
  else
    cpu::batch_norm_bwd(x, w, mean, invstd, training, nullptr, grad_y, &gx, &gw, &gb);
  return {gx, gw, gb};
}

// A float32 input whose values are bfloat16 values (what conv2d gives under the bf16 policy), its bfloat16
// copy, and an incoming gradient.
struct Bf16Input {
  Tensor x32, x16, grad_y;
};
Bf16Input bf16_input() {
  const Tensor x16 = to_bf16_storage(random_tensor({2, 3, 5, 7}, 84, DType::kFloat32, -3.0, 3.0));
  return {from_bf16_storage(x16), x16, random_tensor({2, 3, 5, 7}, 85, DType::kFloat32)};
}
}  // namespace

TEST_CASE("batch_norm2d: worked example, training") {
  // x [N=2, C=2, H=1, W=2]: channel 0 holds {1, 2} (n=0) and {3, 6} (n=1); channel 1 {0, 4} and {4, 0}.
  // Channel 0: mean 12/4 = 3, biased var (4 + 1 + 0 + 9)/4 = 3.5, unbiased 14/3.
  // Channel 1: mean 8/4 = 2, biased var (4 + 4 + 4 + 4)/4 = 4, unbiased 16/3.
  // y = (x - mean) / sqrt(var + 1e-5) * weight + bias, weight {2, -1}, bias {0.5, 1}.
  // Running stats from mean 0, var 1, momentum 0.1: mean {0.3, 0.2}, var {0.9 + 1.4/3, 0.9 + 1.6/3}.
  Tensor x = Tensor::from_vector({1, 2, 0, 4, 3, 6, 4, 0}, {2, 2, 1, 2}, DType::kFloat64);
  Tensor w = Tensor::from_vector({2, -1}, {2}, DType::kFloat64);
  Tensor b = Tensor::from_vector({0.5, 1}, {2}, DType::kFloat64);
  Tensor rm = Tensor::zeros({2}, DType::kFloat64), rv = Tensor::ones({2}, DType::kFloat64);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor y = batch_norm2d(x, w, b, rm, rv, training_params());
  double i0 = 1.0 / std::sqrt(3.5 + 1e-5), i1 = 1.0 / std::sqrt(4.0 + 1e-5);
  Tensor expected = Tensor::from_vector({-2 * i0 * 2 + 0.5, -1 * i0 * 2 + 0.5, -2 * i1 * -1 + 1, 2 * i1 * -1 + 1,
                                         0 * i0 * 2 + 0.5, 3 * i0 * 2 + 0.5, 2 * i1 * -1 + 1, -2 * i1 * -1 + 1},
                                        {2, 2, 1, 2}, DType::kFloat64);
  // 1e-14: a handful of double roundings.
  expect_close(y, expected, 1e-14, 1e-15, "training forward");
  expect_close(rm, Tensor::from_vector({0.3, 0.2}, {2}, DType::kFloat64), 1e-14, 1e-15, "running_mean");
  expect_close(rv, Tensor::from_vector({0.9 + 1.4 / 3, 0.9 + 1.6 / 3}, {2}, DType::kFloat64), 1e-14, 1e-15,
               "running_var (unbiased)");

  // L = y[0, 0, 0, 0] alone (g = 1 there, 0 elsewhere). Channel 0 has xhat = {-2, -1, 0, 3} * i0, M = 4:
  //   grad_x = w i0 (g - mean(g) - xhat mean(g xhat)) = 2 i0 (g - 1/4 - xhat * (-2 i0) / 4);
  //   grad_weight[0] = sum(g xhat) = -2 i0, grad_bias[0] = sum(g) = 1; channel 1 gets nothing.
  sum(mul(y, Tensor::from_vector({1, 0, 0, 0, 0, 0, 0, 0}, {2, 2, 1, 2}, DType::kFloat64))).backward();
  auto gx = [&](double g, double xh) { return 2 * i0 * (g - 0.25 - xh * i0 * (-2 * i0) / 4); };
  expect_close(
      x.grad(),
      Tensor::from_vector({gx(1, -2), gx(0, -1), 0, 0, gx(0, 0), gx(0, 3), 0, 0}, {2, 2, 1, 2}, DType::kFloat64), 1e-13,
      1e-15, "training grad_x");
  expect_close(w.grad(), Tensor::from_vector({-2 * i0, 0}, {2}, DType::kFloat64), 1e-14, 1e-15, "grad_weight");
  expect_close(b.grad(), Tensor::from_vector({1, 0}, {2}, DType::kFloat64), 1e-14, 1e-15, "grad_bias");
}

TEST_CASE("batch_norm2d: worked example, eval") {
  // Same x; running mean {0.5, -1}, running var {4, 0.25}: y = (x - rm) / sqrt(rv + 1e-5) * w + b, and
  // the running stats stay as they are. Backward of sum(y): grad_x = w / sqrt(rv + eps) everywhere in
  // the channel, grad_weight = sum(xhat), grad_bias = M = 4.
  for (DType dt : {DType::kFloat64, DType::kFloat32}) {
    Tensor x = Tensor::from_vector({1, 2, 0, 4, 3, 6, 4, 0}, {2, 2, 1, 2}, dt);
    Tensor w = Tensor::from_vector({2, -1}, {2}, dt), b = Tensor::from_vector({0.5, 1}, {2}, dt);
    Tensor rm = Tensor::from_vector({0.5, -1}, {2}, dt), rv = Tensor::from_vector({4, 0.25}, {2}, dt);
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    Tensor y = batch_norm2d(x, w, b, rm, rv, eval_params());
    double i0 = 1.0 / std::sqrt(4 + 1e-5), i1 = 1.0 / std::sqrt(0.25 + 1e-5);
    auto y0 = [&](double v) { return (v - 0.5) * i0 * 2 + 0.5; };
    auto y1 = [&](double v) { return (v + 1) * i1 * -1 + 1; };
    // float32: one rounding of a double result (|y| <= 20): 1e-6 relative plus 1e-6 absolute.
    double tol = dt == DType::kFloat64 ? 1e-14 : 1e-6;
    expect_close(
        y, Tensor::from_vector({y0(1), y0(2), y1(0), y1(4), y0(3), y0(6), y1(4), y1(0)}, {2, 2, 1, 2}, DType::kFloat64),
        tol, tol, "eval forward");
    CHECK(rm.to_vector() == std::vector<double>{0.5, -1});
    CHECK(rv.to_vector() == std::vector<double>{4, 0.25});
    sum(y).backward();
    expect_close(
        x.grad(),
        Tensor::from_vector({2 * i0, 2 * i0, -i1, -i1, 2 * i0, 2 * i0, -i1, -i1}, {2, 2, 1, 2}, DType::kFloat64), tol,
        tol, "eval grad_x");
    double sx0 = (0.5 + 1.5 + 2.5 + 5.5) * i0, sx1 = (1 + 5 + 5 + 1) * i1;
    expect_close(w.grad(), Tensor::from_vector({sx0, sx1}, {2}, DType::kFloat64), tol, tol, "eval grad_weight");
    expect_close(b.grad(), Tensor::from_vector({4, 4}, {2}, DType::kFloat64), tol, tol, "eval grad_bias");
  }
}

TEST_CASE("batch_norm2d: float64 gradient checks") {
  // Random x (never constant per channel), weight away from 0, running var > 0; all smooth functions,
  // so central differences apply everywhere.
  Tensor x = random_tensor({3, 4, 5, 3}, 51, DType::kFloat64, -1.0, 2.0);
  Tensor w = random_tensor({4}, 52, DType::kFloat64, 0.5, 1.5);
  Tensor b = random_tensor({4}, 53, DType::kFloat64);
  Tensor rm = random_tensor({4}, 54, DType::kFloat64);
  Tensor rv = random_tensor({4}, 55, DType::kFloat64, 0.5, 2.0);
  SUBCASE("training, affine") {
    check_gradients(
        [&](const std::vector<Tensor>& in) { return batch_norm2d(in[0], in[1], in[2], rm, rv, training_params()); },
        {x, w, b});
  }
  SUBCASE("eval, affine") {
    check_gradients(
        [&](const std::vector<Tensor>& in) { return batch_norm2d(in[0], in[1], in[2], rm, rv, eval_params()); },
        {x, w, b});
  }
  SUBCASE("training, no affine") {
    check_gradients(
        [&](const std::vector<Tensor>& in) {
          return batch_norm2d(in[0], Tensor(), Tensor(), rm, rv, training_params());
        },
        {x});
  }
  SUBCASE("eval, no affine") {
    check_gradients(
        [&](const std::vector<Tensor>& in) { return batch_norm2d(in[0], Tensor(), Tensor(), rm, rv, eval_params()); },
        {x});
  }
  SUBCASE("training, N = 2, H = W = 1 (M = 2)") {
    // With two values per channel xhat = d / sqrt(d^2 + eps), d = (x0 - x1) / 2: at eps = 1e-5 it is
    // +-1 to 1e-5 and its slope ~ eps / |d|^3 drowns in the finite difference's rounding. A large eps
    // keeps the function well conditioned; the M = 2 code path is the same.
    BatchNormParams p = training_params();
    p.eps = 0.5;
    check_gradients([&](const std::vector<Tensor>& in) { return batch_norm2d(in[0], in[1], in[2], rm, rv, p); },
                    {random_tensor({2, 4, 1, 1}, 56, DType::kFloat64), w, b});
  }
}

namespace {

// batch_norm2d_relu (fused) or relu(add(batch_norm2d(...), residual)) on copies of the inputs and of the
// running stats, then the backward of sum(y * g): everything that can differ.
struct FusedRun {
  Tensor y, running_mean, running_var;
  std::vector<Tensor> grads;  // x, weight, bias, residual (undefined when none)
};
FusedRun run_relu_variant(bool fused, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual,
                          const Tensor& g, const BatchNormParams& p) {
  const int64_t c = x.size(1);
  FusedRun r;
  r.running_mean = random_tensor({c}, 73, x.dtype(), -0.5, 0.5).to(x.device());
  r.running_var = random_tensor({c}, 74, x.dtype(), 0.5, 2.0).to(x.device());
  std::vector<Tensor> in = {x.clone().set_requires_grad(true), w.clone().set_requires_grad(true),
                            b.clone().set_requires_grad(true),
                            residual.defined() ? residual.clone().set_requires_grad(true) : Tensor()};
  if (fused) {
    r.y = batch_norm2d_relu(in[0], in[1], in[2], r.running_mean, r.running_var, p, in[3]);
  } else {
    Tensor y = batch_norm2d(in[0], in[1], in[2], r.running_mean, r.running_var, p);
    r.y = relu(in[3].defined() ? add(y, in[3]) : y);
  }
  sum(mul(r.y, g)).backward();
  for (const Tensor& t : in) r.grads.push_back(t.defined() ? t.grad() : Tensor());
  return r;
}

void check_same_bits(const FusedRun& a, const FusedRun& b) {
  CHECK(a.y.to_vector() == b.y.to_vector());
  CHECK(a.running_mean.to_vector() == b.running_mean.to_vector());
  CHECK(a.running_var.to_vector() == b.running_var.to_vector());
  for (size_t k = 0; k < a.grads.size(); ++k) {
    CAPTURE(k);
    REQUIRE(a.grads[k].defined() == b.grads[k].defined());
    if (a.grads[k].defined()) CHECK(a.grads[k].to_vector() == b.grads[k].to_vector());
  }
}

}  // namespace

TEST_CASE("batch_norm2d_relu: the bits of batch_norm2d, add and relu, forward and backward") {
  uint64_t seed = 81;
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (bool training : {true, false}) {
      for (bool with_residual : {true, false}) {
        CAPTURE(dtype_name(dt));
        CAPTURE(training);
        CAPTURE(with_residual);
        const Shape s{2, 3, 5, 4};
        const Tensor x = random_tensor(s, seed++, dt, -1.0, 2.0), w = random_tensor({3}, seed++, dt, 0.5, 1.5);
        const Tensor b = random_tensor({3}, seed++, dt), g = random_tensor(s, seed++, dt);
        const Tensor residual = with_residual ? random_tensor(s, seed++, dt) : Tensor();
        BatchNormParams p;
        p.training = training;
        const FusedRun fused = run_relu_variant(true, x, w, b, residual, g, p);
        check_same_bits(fused, run_relu_variant(false, x, w, b, residual, g, p));
        // The ReLU did cut something, and let something through.
        const std::vector<double> y = fused.y.to_vector();
        CHECK(std::count(y.begin(), y.end(), 0.0) > 0);
        CHECK(std::count_if(y.begin(), y.end(), [](double v) { return v > 0; }) > 0);
      }
    }
  }
}

TEST_CASE("batch_norm2d_relu: float64 gradient check, with the residual") {
  // Random inputs keep the ReLU's inputs away from 0 (a kink there would spoil central differences).
  Tensor rm = random_tensor({3}, 91, DType::kFloat64), rv = random_tensor({3}, 92, DType::kFloat64, 0.5, 2.0);
  for (bool training : {true, false}) {
    BatchNormParams p;
    p.training = training;
    check_gradients(
        [&](const std::vector<Tensor>& in) { return batch_norm2d_relu(in[0], in[1], in[2], rm, rv, p, in[3]); },
        {random_tensor({2, 3, 4, 3}, 93, DType::kFloat64, -1.0, 2.0), random_tensor({3}, 94, DType::kFloat64, 0.5, 1.5),
         random_tensor({3}, 95, DType::kFloat64), random_tensor({2, 3, 4, 3}, 96, DType::kFloat64)});
  }
}

TEST_CASE("batch_norm2d_relu: a residual of another shape or dtype is refused") {
  Tensor x = random_tensor({2, 3, 4, 4}, 97, DType::kFloat32), rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  expect_error([&] { batch_norm2d_relu(x, Tensor(), Tensor(), rm, rv, {}, Tensor::zeros({2, 3, 4, 5})); },
               {"[batch_norm2d]", "residual", "[2, 3, 4, 5]", "[2, 3, 4, 4]"});
  expect_error([&] { batch_norm2d_relu(x, Tensor(), Tensor(), rm, rv, {}, Tensor::zeros({2, 3, 4, 4}, DType::kFloat64)); },
               {"[batch_norm2d]", "residual", "float64"});
}

TEST_CASE("batch_norm2d: the running stats get no gradient") {
  Tensor x = random_tensor({2, 3, 2, 2}, 57, DType::kFloat64);
  Tensor rm = Tensor::zeros({3}, DType::kFloat64), rv = Tensor::ones({3}, DType::kFloat64);
  x.set_requires_grad(true);
  sum(batch_norm2d(x, Tensor(), Tensor(), rm, rv, training_params())).backward();
  CHECK(x.grad().defined());
  CHECK_FALSE(rm.grad().defined());
  CHECK_FALSE(rv.grad().defined());
}

TEST_CASE("batch_norm2d: the backward kernels read a bfloat16 input as its float32 value") {
  const Bf16Input in = bf16_input();
  for (bool training : {true, false}) {
    const std::vector<Tensor> from16 = bwd_kernels(in.x16, in.grad_y, training);
    const std::vector<Tensor> from32 = bwd_kernels(in.x32, in.grad_y, training);
    for (size_t k = 0; k < 3; ++k) CHECK(from16[k].to_vector() == from32[k].to_vector());
  }
}

TEST_CASE("batch_norm2d: normalising again with the forward's statistics gives the forward's bits") {
  const Tensor x = random_tensor({2, 3, 5, 7}, 86, DType::kFloat32, -2.0, 3.0);
  const Tensor w = random_tensor({3}, 87, DType::kFloat32), b = random_tensor({3}, 88, DType::kFloat32);
  for (bool training : {true, false}) {
    for (bool relu : {false, true}) {
      CAPTURE(training);
      CAPTURE(relu);
      BatchNormParams p = training ? training_params() : eval_params();
      p.relu = relu;
      Tensor rm = random_tensor({3}, 89, DType::kFloat32, -0.5, 0.5), rv = Tensor::full({3}, 1.5);
      Tensor y = Tensor::empty_like(x), sm = Tensor::empty({3}), si = Tensor::empty({3});
      Tensor stats = Tensor::empty({6}, DType::kFloat64);
      if (training)
        cpu::batch_norm_fwd_train(x, w, b, rm, rv, p, y, sm, si, &stats);
      else
        cpu::batch_norm_fwd_eval(x, w, b, rm, rv, p, y, sm, si, &stats);
      CHECK(stats.to_vector()[0] == doctest::Approx(sm.to_vector()[0]).epsilon(1e-6));  // the means first
      Tensor again = Tensor::empty_like(x);
      cpu::batch_norm_normalise(x, stats, w, b, relu, again);
      CHECK(again.to_vector() == y.to_vector());
    }
  }
}

TEST_CASE("batch_norm2d: CPU results do not depend on the thread count") {
  // Each channel is summed serially by one thread, so 1 and 3 threads must give the same bits.
  Tensor x = random_tensor({2, 5, 33, 31}, 58, DType::kFloat32, -1.0, 2.0);
  Tensor w = random_tensor({5}, 59, DType::kFloat32, 0.5, 1.5), b = random_tensor({5}, 60, DType::kFloat32);
  auto run = [&](int threads) {
    int previous = num_threads();
    set_num_threads(threads);
    Tensor rm = Tensor::zeros({5}), rv = Tensor::ones({5});
    Tensor xr = x.clone(), wr = w.clone(), br = b.clone();
    xr.set_requires_grad(true);
    wr.set_requires_grad(true);
    br.set_requires_grad(true);
    Tensor y = batch_norm2d(xr, wr, br, rm, rv, training_params());
    sum(mul(y, y)).backward();
    set_num_threads(previous);
    return std::vector<std::vector<double>>{y.to_vector(),         rm.to_vector(),        rv.to_vector(),
                                            xr.grad().to_vector(), wr.grad().to_vector(), br.grad().to_vector()};
  };
  CHECK(run(1) == run(3));
}

TEST_CASE("batch_norm2d: bad input") {
  Tensor x = Tensor::zeros({2, 3, 4, 4});
  Tensor w = Tensor::ones({3}), b = Tensor::zeros({3}), rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  BatchNormParams p;
  expect_error([&] { batch_norm2d(x, Tensor::ones({4}), b, rm, rv, p); },
               {"[batch_norm2d]", "weight has shape [4]", "expected [3]", "float32[2, 3, 4, 4]"});
  Tensor b_bad = Tensor::ones({3, 1});
  expect_error([&] { batch_norm2d(x, w, b_bad, rm, rv, p); }, {"[batch_norm2d]", "bias", "expected [3]"});
  Tensor rm_bad = Tensor::zeros({2});
  expect_error([&] { batch_norm2d(x, w, b, rm_bad, rv, p); },
               {"[batch_norm2d]", "running_mean has shape [2]", "expected [3]"});
  Tensor rv_bad = Tensor::ones({3}, DType::kFloat64);
  expect_error([&] { batch_norm2d(x, w, b, rm, rv_bad, p); }, {"[batch_norm2d]", "running_var", "float64", "float32"});
  expect_error([&] { batch_norm2d(x, w, Tensor(), rm, rv, p); },
               {"[batch_norm2d]", "weight is defined but bias is undefined"});
  Tensor x3 = Tensor::zeros({2, 3, 4}), x_u8 = Tensor::zeros({2, 3, 4, 4}, DType::kUInt8);
  expect_error([&] { batch_norm2d(x3, w, b, rm, rv, p); }, {"[batch_norm2d]", "3 dims", "expected 4"});
  expect_error([&] { batch_norm2d(x_u8, w, b, rm, rv, p); }, {"[batch_norm2d]", "uint8"});
  // M = N * H * W = 1: PyTorch's "Expected more than 1 value per channel when training". Eval is fine.
  Tensor x1 = Tensor::zeros({1, 3, 1, 1});
  expect_error([&] { batch_norm2d(x1, w, b, rm, rv, p); },
               {"[batch_norm2d]", "more than 1 value per channel when training", "float32[1, 3, 1, 1]"});
  CHECK(batch_norm2d(x1, w, b, rm, rv, eval_params()).shape() == x1.shape());
}

TEST_CASE("batch_norm2d: synchronised over two identical ranks equals one batch holding both") {
  // Each rank holds x and g: the statistics, the running-stat update and grad_x are those of the batch
  // [x; x], seen from its first half; grad_weight and grad_bias stay this rank's share (half of it).
  for (DType dtype : {DType::kFloat64, DType::kFloat32}) {
    CAPTURE(dtype_name(dtype));
    const Tensor x = random_tensor({3, 4, 5, 7}, 73, dtype, -1.0, 2.0);
    const Tensor g = random_tensor({3, 4, 5, 7}, 74, dtype);
    const Tensor w = random_tensor({4}, 75, dtype, 0.5, 1.5), b = random_tensor({4}, 76, dtype);
    TwinRanks twins;
    const BatchNormRun synced = run_batch_norm(x, w, b, g, &twins);
    CHECK(twins.sums == 3);  // forward: the means, then the squared deviations; backward: the two sums
    const BatchNormRun whole = run_batch_norm(twice_along_batch(x), w, b, twice_along_batch(g), nullptr);
    const double tol = dtype == DType::kFloat64 ? 1e-12 : 2e-6;
    expect_close(synced.y, first_half_along_batch(whole.y), tol, tol, "y");
    expect_close(synced.grad_x, first_half_along_batch(whole.grad_x), tol, tol, "grad_x");
    expect_close(mul(synced.grad_w, Tensor::full({4}, 2.0, dtype)), whole.grad_w, tol, tol, "grad_weight");
    expect_close(mul(synced.grad_b, Tensor::full({4}, 2.0, dtype)), whole.grad_b, tol, tol, "grad_bias");
    expect_close(synced.running_mean, whole.running_mean, tol, tol, "running_mean");
    // M counts both ranks' values: the unbiased factor is 2M / (2M - 1), not M / (M - 1).
    expect_close(synced.running_var, whole.running_var, tol, tol, "running_var");
    const BatchNormRun alone = run_batch_norm(x, w, b, g, nullptr);
    CHECK(max_abs_diff(alone.running_var, whole.running_var) > 10 * tol);
  }
}

TEST_CASE("batch_norm2d: synchronised, CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  for (const Shape& shape : {Shape{3, 4, 5, 7}, Shape{2, 3, 67, 131}}) {
    CAPTURE(shape.str());
    const int64_t c = shape[1];
    const Tensor x = random_tensor(shape, 77, DType::kFloat32, -1.0, 2.0);
    const Tensor g = random_tensor(shape, 78, DType::kFloat32);
    const Tensor w = random_tensor({c}, 79, DType::kFloat32, 0.5, 1.5), b = random_tensor({c}, 80, DType::kFloat32);
    TwinRanks cpu_twins, cuda_twins;
    const BatchNormRun cpu = run_batch_norm(x, w, b, g, &cpu_twins);
    const Device gpu = Device::cuda();
    const BatchNormRun cuda = run_batch_norm(x.to(gpu), w.to(gpu), b.to(gpu), g.to(gpu), &cuda_twins);
    CHECK(cuda_twins.sums == 2);  // one vector in the forward, one in the backward
    const std::pair<const char*, std::pair<Tensor, Tensor>> outputs[] = {
        {"y", {cuda.y, cpu.y}},
        {"grad_x", {cuda.grad_x, cpu.grad_x}},
        {"grad_weight", {cuda.grad_w, cpu.grad_w}},
        {"grad_bias", {cuda.grad_b, cpu.grad_b}},
        {"running_mean", {cuda.running_mean, cpu.running_mean}},
        {"running_var", {cuda.running_var, cpu.running_var}}};
    for (const auto& [name, pair] : outputs) {
      const double e = parity_error(pair.first, pair.second);
      CHECK_MESSAGE(e <= 1e-5, name, ": error ", e);
    }
  }
}

TEST_CASE("batch_norm2d_relu: on CUDA the bits of CUDA's batch_norm2d, add and relu; near the CPU's" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Device gpu = Device::cuda();
  const Shape s{2, 6, 33, 17};
  const Tensor x = random_tensor(s, 101, DType::kFloat32, -1.0, 2.0), w = random_tensor({6}, 102, DType::kFloat32, 0.5, 1.5);
  const Tensor b = random_tensor({6}, 103, DType::kFloat32), g = random_tensor(s, 104, DType::kFloat32);
  const Tensor residual = random_tensor(s, 105, DType::kFloat32);
  for (bool training : {true, false}) {
    for (bool with_residual : {true, false}) {
      CAPTURE(training);
      CAPTURE(with_residual);
      BatchNormParams p;
      p.training = training;
      const Tensor r = with_residual ? residual.to(gpu) : Tensor();
      const FusedRun fused = run_relu_variant(true, x.to(gpu), w.to(gpu), b.to(gpu), r, g.to(gpu), p);
      check_same_bits(fused, run_relu_variant(false, x.to(gpu), w.to(gpu), b.to(gpu), r, g.to(gpu), p));
      const FusedRun on_cpu = run_relu_variant(true, x, w, b, with_residual ? residual : Tensor(), g, p);
      CHECK(parity_error(fused.y, on_cpu.y) < 1e-5);
      for (size_t k = 0; k < 3; ++k) CHECK(parity_error(fused.grads[k], on_cpu.grads[k]) < 1e-4);
    }
  }
}

TEST_CASE("batch_norm2d: the backward kernels on a bfloat16 input, CUDA's bits for its float32 value" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Bf16Input in = bf16_input();
  const Tensor g = in.grad_y.to(Device::cuda());
  for (bool training : {true, false}) {
    const std::vector<Tensor> from16 = bwd_kernels(in.x16.to(Device::cuda()), g, training);
    const std::vector<Tensor> from32 = bwd_kernels(in.x32.to(Device::cuda()), g, training);
    for (size_t k = 0; k < 3; ++k) CHECK(from16[k].to_vector() == from32[k].to_vector());
  }
}

TEST_CASE("batch_norm2d: on CUDA, normalising again with the forward's statistics gives the forward's bits" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Device gpu = Device::cuda();
  const Tensor x = random_tensor({2, 3, 5, 7}, 86, DType::kFloat32, -2.0, 3.0).to(gpu);
  const Tensor w = random_tensor({3}, 87, DType::kFloat32).to(gpu), b = random_tensor({3}, 88, DType::kFloat32).to(gpu);
  for (bool relu : {false, true}) {
    BatchNormParams p = training_params();
    p.relu = relu;
    Tensor rm = Tensor::zeros({3}, DType::kFloat32, gpu), rv = Tensor::ones({3}, DType::kFloat32, gpu);
    Tensor y = Tensor::empty_like(x), sm = Tensor::empty({3}, DType::kFloat32, gpu);
    Tensor si = Tensor::empty({3}, DType::kFloat32, gpu), stats = Tensor::empty({6}, DType::kFloat64, gpu);
    cuda::batch_norm_fwd_train(x, w, b, rm, rv, p, y, sm, si, &stats);
    Tensor again = Tensor::empty_like(x);
    cuda::batch_norm_normalise(x, stats, w, b, relu, again);
    CHECK(again.to_vector() == y.to_vector());
  }
}

TEST_CASE("batch_norm2d: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // The running stats are not inputs of fn: each device gets its own copy, picked by x's device, and
  // the copies are compared after the call (training updates them in place).
  struct Case {
    Shape shape;
    bool affine;
  };
  const Case cases[] = {
      {{3, 5, 7, 9}, true},      // odd sizes, batch 3
      {{2, 3, 67, 131}, true},   // M = 17554: three partial blocks per channel
      {{2, 2, 515, 517}, true},  // M = 532510: more than 64 x 8192, so the part count is capped
      {{4, 6, 1, 1}, true},      // M = 4, one value per plane
      {{3, 5, 7, 9}, false},
  };
  for (const Case& k : cases) {
    for (bool training : {true, false}) {
      int64_t c = k.shape[1];
      Tensor rm_cpu = random_tensor({c}, 61, DType::kFloat32, -0.5, 0.5);
      Tensor rv_cpu = random_tensor({c}, 62, DType::kFloat32, 0.5, 2.0);
      Tensor rm_cuda = rm_cpu.to(Device::cuda()), rv_cuda = rv_cpu.to(Device::cuda());
      BatchNormParams p;
      p.training = training;
      auto fn = [&](const std::vector<Tensor>& in) {
        bool gpu = in[0].device().is_cuda();
        Tensor& rm = gpu ? rm_cuda : rm_cpu;
        Tensor& rv = gpu ? rv_cuda : rv_cpu;
        return k.affine ? batch_norm2d(in[0], in[1], in[2], rm, rv, p)
                        : batch_norm2d(in[0], Tensor(), Tensor(), rm, rv, p);
      };
      std::string what =
          cat("batch_norm2d ", k.shape.str(), training ? " training" : " eval", k.affine ? "" : " no affine");
      // x not centred (mean about 0.5) so the mean matters; weight away from 0.
      std::vector<Tensor> in{random_tensor(k.shape, 63, DType::kFloat32, -1.0, 2.0)};
      if (k.affine) {
        in.push_back(random_tensor({c}, 64, DType::kFloat32, 0.5, 1.5));
        in.push_back(random_tensor({c}, 65, DType::kFloat32));
      }
      check_cuda_parity(fn, in, what);
      double e_mean = parity_error(rm_cuda, rm_cpu), e_var = parity_error(rv_cuda, rv_cpu);
      CHECK_MESSAGE(e_mean <= 1e-5, what, ": running_mean error ", e_mean);
      CHECK_MESSAGE(e_var <= 1e-5, what, ": running_var error ", e_var);
    }
  }
  // Deterministic: the same call twice gives the same bits (running stats aside).
  Tensor x = random_tensor({2, 3, 67, 131}, 66, DType::kFloat32).to(Device::cuda());
  Tensor rm = Tensor::zeros({3}, DType::kFloat32, Device::cuda());
  Tensor rv = Tensor::ones({3}, DType::kFloat32, Device::cuda());
  CHECK(batch_norm2d(x, Tensor(), Tensor(), rm, rv, BatchNormParams{}).to_vector() ==
        batch_norm2d(x, Tensor(), Tensor(), rm, rv, BatchNormParams{}).to_vector());
}
