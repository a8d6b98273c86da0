// Tests of conv2d_relu (engine/ops/conv2d_relu.h): a worked example, the fused kernels against conv2d, add and
// relu one after another (the same bits: im2col, oneDNN with its row bands and channel chunks, float64,
// grouped; with and without a residual and a bias), its backward node against theirs (the same bits) and
// float64 finite differences, bf16 (composed), NaN through the ReLU, CPU vs CUDA, bad input.
#include "engine/ops/conv2d_relu.h"

#include <cmath>
#include <limits>

#include "cpu/conv2d_onednn.h"
#include "engine/autograd.h"
#include "engine/ops/add.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "engine/precision.h"
#include "tests/gradcheck.h"
#include "tests/ops/conv_algorithm_guard.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

const Conv2dParams kSame3x3{.pad_h = 1, .pad_w = 1};

Tensor unfused(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, const Tensor& residual) {
  Tensor y = conv2d(x, w, b, p);
  return relu(residual.defined() ? add(y, residual) : y);
}

struct Case {
  const char* name;
  Shape x, w;
  Conv2dParams p;
  bool bias, residual;
};

// oneDNN's shapes (3x3 stride 1, 16x16 outputs and more: one band with channel chunks, several bands), and
// im2col's (1x1, 3x3 stride 2, grouped, small outputs).
std::vector<Case> cases() {
  return {
      {"3x3, one band, chunks, bias + residual", {2, 16, 18, 20}, {64, 16, 3, 3}, kSame3x3, true, true},
      {"3x3, one band, no bias, no residual", {1, 32, 17, 16}, {32, 32, 3, 3}, kSame3x3, false, false},
      {"3x3, row bands, residual", {1, 64, 100, 96}, {32, 64, 3, 3}, kSame3x3, true, true},
      {"1x1 (im2col), residual", {2, 24, 9, 11}, {40, 24, 1, 1}, {}, false, true},
      {"3x3 stride 2 (im2col), bias", {2, 8, 15, 13}, {16, 8, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, true, false},
      {"3x3 groups 4 (im2col), residual", {1, 8, 10, 10}, {12, 2, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 4}, true, true},
      // The epilogue on im2col's product tiles: a product of 96 x 1600 in 4 tiles of C (cpu/blas.cpp's split);
      // 3 bands of 18 output rows (a 576-row column matrix of 100 columns per output row, in 4 MiB bands);
      // two groups of 40 channels (too many for the direct grouped kernels).
      {"1x1 (im2col), several product tiles, bias + residual", {1, 64, 40, 40}, {96, 64, 1, 1}, {}, true, true},
      {"3x3 stride 2 (im2col), 3 row bands, bias + residual", {1, 64, 100, 200}, {16, 64, 3, 3},
       {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, true, true},
      {"3x3, 2 groups of 40 channels (im2col), bias + residual", {1, 80, 12, 12}, {16, 40, 3, 3},
       {.pad_h = 1, .pad_w = 1, .groups = 2}, true, true},
  };
}

// `r` moved by 0.1 where conv2d(x, w, b) + r is within 0.05 of the ReLU's kink at 0, so that no central
// difference of the gradient check can straddle it.
Tensor residual_away_from_kink(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r) {
  const NoGradGuard no_grad;
  const std::vector<double> pre = add(conv2d(x.detach(), w, b, kSame3x3), r).to_vector();
  std::vector<double> moved = r.to_vector();
  for (size_t i = 0; i < moved.size(); ++i)
    if (std::abs(pre[i]) < 0.05) moved[i] += pre[i] < 0 ? -0.1 : 0.1;
  return Tensor::from_vector(moved, r.shape(), r.dtype());
}

}  // namespace

TEST_CASE("conv2d_relu: worked example, with and without a residual") {
  const NoGradGuard no_grad;
  // One channel, 2x2 kernel [1, -1; 2, 0] on [1 2 3; 4 5 6; 7 8 9], bias -1:
  //   windows: 1 - 2 + 8 = 7, 2 - 3 + 10 = 9, 4 - 5 + 14 = 13, 5 - 6 + 16 = 15; minus 1: 6, 8, 12, 14.
  const Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}, DType::kFloat32);
  const Tensor w = Tensor::from_vector({1, -1, 2, 0}, {1, 1, 2, 2}, DType::kFloat32);
  const Tensor b = Tensor::from_vector({-1}, {1}, DType::kFloat32);
  CHECK(conv2d_relu(x, w, b, {}).to_vector() == std::vector<double>{6, 8, 12, 14});
  const Tensor r = Tensor::from_vector({-7, 1, -20, 0.5}, {1, 1, 2, 2}, DType::kFloat32);
  // 6 - 7 < 0 -> 0, 8 + 1, 12 - 20 < 0 -> 0, 14 + 0.5.
  CHECK(conv2d_relu(x, w, b, {}, r).to_vector() == std::vector<double>{0, 9, 0, 14.5});
}

TEST_CASE("conv2d_relu: the fused kernels give the bits of conv2d, add and relu, with oneDNN and with im2col") {
  const AlgorithmGuard guard;
  const NoGradGuard no_grad;
  for (const cpu::ConvAlgorithm algorithm : {cpu::ConvAlgorithm::kOneDnn, cpu::ConvAlgorithm::kIm2col}) {
    if (algorithm == cpu::ConvAlgorithm::kOneDnn && !cpu::onednn_built()) continue;
    cpu::set_conv_algorithm(algorithm);
    uint64_t seed = 100;
    for (const Case& c : cases()) {
      CAPTURE(c.name);
      CAPTURE(cpu::conv_algorithm_name(algorithm));
      const Tensor x = random_tensor(c.x, ++seed, DType::kFloat32);
      const Tensor w = random_tensor(c.w, ++seed, DType::kFloat32, -0.3, 0.3);
      const Tensor b = c.bias ? random_tensor({c.w[0]}, ++seed, DType::kFloat32) : Tensor();
      const Shape y_shape = conv2d_output_shape(x, w, b, c.p);
      const Tensor r = c.residual ? random_tensor(y_shape, ++seed, DType::kFloat32) : Tensor();
      REQUIRE(conv2d_relu_fuses(x));
      const Tensor fused = conv2d_relu(x, w, b, c.p, r), reference = unfused(x, w, b, c.p, r);
      CHECK(fused.shape() == y_shape);
      CHECK(fused.to_vector() == reference.to_vector());
      // The ReLU did something: some outputs are zero, some positive.
      const std::vector<double> v = fused.to_vector();
      CHECK(std::count(v.begin(), v.end(), 0.0) > 0);
      CHECK(std::count_if(v.begin(), v.end(), [](double e) { return e > 0; }) > 0);
    }
  }
}

TEST_CASE("conv2d_relu: the oneDNN cases run in row bands and in channel chunks as intended") {
  if (!cpu::onednn_built()) {
    MESSAGE("this build has no oneDNN: its row bands are not tested");
    return;
  }
  const AlgorithmGuard guard;
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kOneDnn);
  const std::vector<Case> all = cases();
  for (size_t i = 0; i < 3; ++i) {
    const Tensor x = random_tensor(all[i].x, 1, DType::kFloat32), w = random_tensor(all[i].w, 2, DType::kFloat32);
    CHECK(cpu::onednn_applies(x, w, all[i].p));
    if (i == 2) CHECK(cpu::onednn_forward_bands(x, w, all[i].p, true) > 1);
  }
}

TEST_CASE("conv2d_relu: float64 on the CPU fuses too, with the same bits") {
  const NoGradGuard no_grad;
  const Tensor x = random_tensor({2, 6, 9, 8}, 31), w = random_tensor({10, 6, 3, 3}, 32, DType::kFloat64, -0.3, 0.3);
  const Tensor b = random_tensor({10}, 33), r = random_tensor({2, 10, 9, 8}, 34);
  CHECK(conv2d_relu(x, w, b, kSame3x3, r).to_vector() == unfused(x, w, b, kSame3x3, r).to_vector());
}

TEST_CASE("conv2d_relu: NaN from the residual passes through the ReLU, as in PyTorch") {
  const NoGradGuard no_grad;
  const Tensor x = random_tensor({1, 16, 16, 16}, 41, DType::kFloat32);
  const Tensor w = random_tensor({16, 16, 3, 3}, 42, DType::kFloat32);
  Tensor r = random_tensor({1, 16, 16, 16}, 43, DType::kFloat32);
  r.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  const Tensor y = conv2d_relu(x, w, Tensor(), kSame3x3, r);
  CHECK(std::isnan(y.data<float>()[5]));
  CHECK_FALSE(std::isnan(y.data<float>()[6]));
}

TEST_CASE("conv2d_relu: its backward gives the bits of conv2d, add and relu's, on oneDNN and im2col") {
  const AlgorithmGuard guard;
  for (const cpu::ConvAlgorithm algorithm : {cpu::ConvAlgorithm::kOneDnn, cpu::ConvAlgorithm::kIm2col}) {
    if (algorithm == cpu::ConvAlgorithm::kOneDnn && !cpu::onednn_built()) continue;
    cpu::set_conv_algorithm(algorithm);
    CAPTURE(cpu::conv_algorithm_name(algorithm));
    const Tensor x0 = random_tensor({2, 16, 18, 20}, 91, DType::kFloat32), w0 = random_tensor({32, 16, 3, 3}, 92, DType::kFloat32, -0.3, 0.3);
    const Tensor b0 = random_tensor({32}, 93, DType::kFloat32), r0 = random_tensor({2, 32, 18, 20}, 94, DType::kFloat32);
    const Tensor weights = random_tensor({2, 32, 18, 20}, 95, DType::kFloat32);
    std::vector<std::vector<double>> grads[2];
    for (int fused = 0; fused < 2; ++fused) {
      std::vector<Tensor> in{x0.clone(), w0.clone(), b0.clone(), r0.clone()};
      for (Tensor& t : in) t.set_requires_grad(true);
      const Tensor y = fused ? conv2d_relu(in[0], in[1], in[2], kSame3x3, in[3]) : unfused(in[0], in[1], in[2], kSame3x3, in[3]);
      CHECK(std::string(y.grad_fn()->name()) == (fused ? "conv2d_relu" : "relu"));
      sum(mul(y, weights)).backward();
      for (const Tensor& t : in) grads[fused].push_back(t.grad().to_vector());
    }
    for (size_t i = 0; i < 4; ++i) {
      CAPTURE(i);
      CHECK(grads[1][i] == grads[0][i]);
    }
  }
}

TEST_CASE("conv2d_relu: float64 gradient check, with and without the residual and the bias") {
  Tensor x = random_tensor({1, 3, 5, 4}, 51), w = random_tensor({3, 3, 3, 3}, 52), b = random_tensor({3}, 53);
  const Tensor r = residual_away_from_kink(x, w, b, random_tensor({1, 3, 5, 4}, 54));
  check_gradients([](const std::vector<Tensor>& in) { return conv2d_relu(in[0], in[1], in[2], kSame3x3, in[3]); },
                  {x, w, b, r});
  const Tensor r2 = residual_away_from_kink(x, w, Tensor(), random_tensor({1, 3, 5, 4}, 55));
  check_gradients([](const std::vector<Tensor>& in) { return conv2d_relu(in[0], in[1], Tensor(), kSame3x3, in[2]); },
                  {x, w, r2});
  // Without a residual: small weights and biases far from the kink, channel 0 all off, 1 and 2 all on.
  const Tensor w3 = random_tensor({3, 3, 3, 3}, 56, DType::kFloat64, -0.2, 0.2);
  const Tensor b3 = Tensor::from_vector({-4.0, 4.0, 4.5}, {3}, DType::kFloat64);
  check_gradients([](const std::vector<Tensor>& in) { return conv2d_relu(in[0], in[1], in[2], kSame3x3); },
                  {x, w3, b3});
}

TEST_CASE("conv2d_relu: in bf16 precision it is the composed ops (conv2d rounds its output first)") {
  const NoGradGuard no_grad;
  const PrecisionScope bf16(Precision::kBFloat16);
  const Tensor x = random_tensor({1, 8, 16, 16}, 61, DType::kFloat32), w = random_tensor({16, 8, 3, 3}, 62, DType::kFloat32);
  const Tensor r = random_tensor({1, 16, 16, 16}, 63, DType::kFloat32);
  CHECK_FALSE(conv2d_relu_fuses(x));  // on the CPU; CUDA fuses in bf16 too (its case below)
  CHECK(conv2d_relu(x, w, Tensor(), kSame3x3, r).to_vector() == unfused(x, w, Tensor(), kSame3x3, r).to_vector());
}

TEST_CASE("conv2d_relu: bad input") {
  const Tensor x = random_tensor({1, 4, 8, 8}, 71, DType::kFloat32), w = random_tensor({6, 4, 3, 3}, 72, DType::kFloat32);
  expect_error([&] { conv2d_relu(x, w, Tensor(), kSame3x3, Tensor::ones({1, 6, 8, 7})); },
               {"[conv2d_relu]", "residual has shape [1, 6, 8, 7]", "[1, 6, 8, 8]"});
  expect_error([&] { conv2d_relu(x, w, Tensor(), kSame3x3, Tensor::ones({1, 6, 8, 8}, DType::kFloat64)); },
               {"[conv2d_relu]", "residual", "float64"});
  expect_error([&] { conv2d_relu(x, random_tensor({6, 5, 3, 3}, 73, DType::kFloat32), Tensor(), kSame3x3); },
               {"[conv2d]", "input has 4 channels"});
}

TEST_CASE("conv2d_relu: CPU vs CUDA, composed (gradients) and fused" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Tensor x = random_tensor({2, 16, 20, 18}, 81, DType::kFloat32), w = random_tensor({32, 16, 3, 3}, 82, DType::kFloat32);
  const Tensor b = random_tensor({32}, 83, DType::kFloat32), r = random_tensor({2, 32, 20, 18}, 84, DType::kFloat32);
  check_cuda_parity([](const std::vector<Tensor>& in) { return conv2d_relu(in[0], in[1], in[2], kSame3x3, in[3]); },
                    {x, w, b, r}, "conv2d_relu", {.tolerance = 1e-4, .requires_grad = {}, .seed = 5, .measure = ParityMeasure::kTermMagnitude});
  const NoGradGuard no_grad;
  const Device gpu = Device::cuda();
  const Tensor xg = x.to(gpu), wg = w.to(gpu), bg = b.to(gpu), rg = r.to(gpu);
  // The fused kernel on the GPU: the bits of the GPU's own conv2d, add and relu, and the CPU's within tolerance.
  CHECK(conv2d_relu(xg, wg, bg, kSame3x3, rg).to_vector() == unfused(xg, wg, bg, kSame3x3, rg).to_vector());
  // The epilogue (bias, residual, ReLU in one kernel) without a residual, and without a bias.
  CHECK(conv2d_relu(xg, wg, bg, kSame3x3).to_vector() == unfused(xg, wg, bg, kSame3x3, Tensor()).to_vector());
  CHECK(conv2d_relu(xg, wg, Tensor(), kSame3x3, rg).to_vector() == unfused(xg, wg, Tensor(), kSame3x3, rg).to_vector());
  CHECK(parity_error(conv2d_relu(xg, wg, bg, kSame3x3, rg), conv2d_relu(x, w, b, kSame3x3, r)) < 1e-3);
}

TEST_CASE("conv2d_relu: in bf16 on CUDA it fuses, with the bits of the composed ops, forward and backward" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // The bias inside the bfloat16 pass's one rounding, the sum and the ReLU applied as the output is widened
  // from bfloat16 channels-last order (cuda/conv2d.cu); the backward under the forward's policy. Shapes over
  // one 32 x 32 transpose tile and not a multiple of it.
  const PrecisionScope bf16(Precision::kBFloat16);
  const Device gpu = Device::cuda();
  const Tensor x0 = random_tensor({2, 40, 19, 37}, 301, DType::kFloat32).to(gpu);
  const Tensor w0 = random_tensor({48, 40, 3, 3}, 302, DType::kFloat32, -0.3, 0.3).to(gpu);
  const Tensor b0 = random_tensor({48}, 303, DType::kFloat32).to(gpu);
  const Tensor r0 = random_tensor({2, 48, 19, 37}, 304, DType::kFloat32).to(gpu);
  const Tensor weights = random_tensor({2, 48, 19, 37}, 305, DType::kFloat32).to(gpu);
  CHECK(conv2d_relu_fuses(x0));
  for (const bool with_residual : {true, false}) {
    CAPTURE(with_residual);
    std::vector<std::vector<double>> outputs[2];
    for (int fused = 0; fused < 2; ++fused) {
      std::vector<Tensor> in{x0.clone(), w0.clone(), b0.clone(), r0.clone()};
      for (Tensor& t : in) t.set_requires_grad(true);
      const Tensor r = with_residual ? in[3] : Tensor();
      const Tensor y =
          fused ? conv2d_relu(in[0], in[1], in[2], kSame3x3, r) : unfused(in[0], in[1], in[2], kSame3x3, r);
      CHECK(std::string(y.grad_fn()->name()) == (fused ? "conv2d_relu" : "relu"));
      sum(mul(y, weights)).backward();
      outputs[fused].push_back(y.to_vector());
      for (size_t i = 0; i < (with_residual ? 4u : 3u); ++i) outputs[fused].push_back(in[i].grad().to_vector());
    }
    for (size_t i = 0; i < outputs[0].size(); ++i) {
      CAPTURE(i);  // 0: y, then the gradients of x, w, b and the residual
      CHECK(outputs[1][i] == outputs[0][i]);
    }
  }
}
