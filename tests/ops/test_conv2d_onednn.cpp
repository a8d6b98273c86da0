// Tests of the oneDNN CPU convolutions (cpu/conv2d_onednn.cpp) against im2col, the reference (cpu/conv2d.cpp,
// itself checked against plain loops and float64 finite differences in test_conv2d.cpp; oneDNN has no float64
// kernels, so float32 parity with im2col is the check): a worked example, the forward and both gradients over
// strides, paddings (PyTorch's floor rule too), dilations, kernel sizes, batch sizes, bias and the forward's
// row bands, thread-count determinism, the choice conv2d makes, the switch PLEURA_CPU_CONV, and bad input. In a build without oneDNN
// the cases that need it say so and check only that it is refused.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/conv2d_onednn.h"
#include "cpu/conv_algorithm.h"
#include "engine/autograd.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/parallel.h"
#include "tests/ops/conv_algorithm_guard.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

Conv2dParams params(int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dil_h = 1,
                    int64_t dil_w = 1) {
  Conv2dParams p;
  p.stride_h = stride_h, p.stride_w = stride_w, p.pad_h = pad_h, p.pad_w = pad_w;
  p.dilation_h = dil_h, p.dilation_w = dil_w;
  return p;
}

struct Case {
  const char* name;
  Shape x, w;
  Conv2dParams p;
  bool bias;
};

// The UNets' kinds of convolution and the corners of the parameters: 7x7 stride 2 on 3 channels (the
// stem), 3x3 with channel counts that are and are not multiples of oneDNN's blocks of 8 / 16, 1x1, stride 2
// with PyTorch's floor (input rows past the last window: negative right padding for oneDNN), dilation,
// every h/w parameter different, batches of 1 and 3.
std::vector<Case> cases() {
  return {
      {"stem 7x7 stride 2 pad 3", {2, 3, 38, 34}, {16, 3, 7, 7}, params(2, 2, 3, 3), false},
      {"3x3 pad 1, 32 -> 32 (two forward chunks)", {2, 32, 20, 18}, {32, 32, 3, 3}, params(1, 1, 1, 1), true},
      {"3x3 pad 1, batch 1, 16 -> 64 (four forward chunks)", {1, 16, 18, 18}, {64, 16, 3, 3}, params(1, 1, 1, 1), true},
      {"3x3 pad 1, 20 -> 12 (partial blocks)", {3, 20, 11, 13}, {12, 20, 3, 3}, params(1, 1, 1, 1), true},
      {"3x3 stride 2 pad 1, odd size", {1, 16, 15, 17}, {24, 16, 3, 3}, params(2, 2, 1, 1), false},
      {"3x3 stride 2 pad 0 (floor)", {2, 8, 10, 9}, {8, 8, 3, 3}, params(2, 2, 0, 0), true},
      {"1x1, 64 -> 16", {2, 64, 9, 7}, {16, 64, 1, 1}, params(1, 1, 0, 0), true},
      {"1x1 stride 2 (downsample)", {2, 16, 9, 10}, {32, 16, 1, 1}, params(2, 2, 0, 0), false},
      {"3x3 dilation 2 pad 2", {2, 16, 12, 12}, {16, 16, 3, 3}, params(1, 1, 2, 2, 2, 2), true},
      {"asymmetric", {2, 8, 13, 11}, {16, 8, 3, 5}, params(2, 1, 0, 2, 1, 2), true},
      // Inputs wide enough for the forward's row bands (2 MiB of input rows each): a band's padding, halo
      // rows and offsets into the output.
      {"3x3 pad 1 in row bands, 512 -> 16", {1, 512, 40, 64}, {16, 512, 3, 3}, params(1, 1, 1, 1), true},
      {"3x3 stride 2 pad 1 in row bands (floor)", {2, 512, 82, 64}, {16, 512, 3, 3}, params(2, 2, 1, 1), false},
      {"7x7 stride 2 pad 3 in row bands", {1, 256, 100, 128}, {16, 256, 7, 7}, params(2, 2, 3, 3), true},
  };
}

// y, grad_x, grad_w, grad_b of sum(conv2d(x, w, b) * gy) with im2col, through the public op.
std::vector<Tensor> im2col_conv(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& gy,
                                const Conv2dParams& p) {
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kIm2col);
  Tensor x = x0.clone(), w = w0.clone(), b = b0.defined() ? b0.clone() : Tensor();
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  if (b.defined()) b.set_requires_grad(true);
  Tensor y = conv2d(x, w, b, p);
  sum(mul(y, gy)).backward();
  return {y.detach(), x.grad(), w.grad()};
}

// The same three from oneDNN's kernels, called directly (conv2d gives oneDNN only the shapes where it pays).
std::vector<Tensor> onednn_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gy,
                                const Conv2dParams& p) {
  Tensor y = Tensor::empty_like(gy), gx = Tensor::empty_like(x), gw = Tensor::empty_like(w);
  cpu::conv2d_onednn_fwd(x, w, b, p, y);
  cpu::conv2d_onednn_bwd(x, w, gy, p, &gx, &gw);
  return {y, gx, gw};
}

}  // namespace

TEST_CASE("conv2d onednn: worked example, forward and both gradients") {
  if (!cpu::onednn_built()) {
    MESSAGE("SKIPPED: this build has no oneDNN");
    return;
  }
  // x = [1 2 3; 4 5 6; 7 8 9], w = [1 2; 3 4], b = 0.5, no padding. By hand: y00 = 1 + 4 + 12 + 20 + 0.5 =
  // 37.5, y01 = 2 + 6 + 15 + 24 + 0.5 = 47.5, y10 = 4 + 10 + 21 + 32 + 0.5 = 67.5, y11 = 77.5. With
  // grad_y = 1: grad_w[r][s] = sum of the 2x2 window at (r, s) = [12 16; 24 28], grad_x = how many windows
  // cover each input times their weights = [1 3 2; 4 10 6; 3 7 4].
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}, DType::kFloat32);
  Tensor w = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2}, DType::kFloat32);
  Tensor b = Tensor::from_vector({0.5}, {1}, DType::kFloat32);
  REQUIRE(cpu::onednn_can_run(x, w, Conv2dParams{}));
  Tensor y = Tensor::empty({1, 1, 2, 2});
  cpu::conv2d_onednn_fwd(x, w, b, Conv2dParams{}, y);
  CHECK(y.to_vector() == std::vector<double>{37.5, 47.5, 67.5, 77.5});
  Tensor gx = Tensor::empty_like(x), gw = Tensor::empty_like(w);
  cpu::conv2d_onednn_bwd(x, w, Tensor::ones({1, 1, 2, 2}), Conv2dParams{}, &gx, &gw);
  CHECK(gw.to_vector() == std::vector<double>{12, 16, 24, 28});
  CHECK(gx.to_vector() == std::vector<double>{1, 3, 2, 4, 10, 6, 3, 7, 4});
}

TEST_CASE("conv2d onednn: forward and gradients equal im2col's within float32 rounding") {
  if (!cpu::onednn_built()) {
    MESSAGE("SKIPPED: this build has no oneDNN");
    return;
  }
  AlgorithmGuard guard;
  uint64_t seed = 100;
  for (const Case& c : cases()) {
    CAPTURE(std::string(c.name));
    Tensor x = random_tensor(c.x, ++seed, DType::kFloat32), w = random_tensor(c.w, ++seed, DType::kFloat32);
    Tensor b = c.bias ? random_tensor({c.w[0]}, ++seed, DType::kFloat32) : Tensor();
    REQUIRE(cpu::onednn_can_run(x, w, c.p));
    const int64_t bands = cpu::onednn_forward_bands(x, w, c.p, c.bias);
    MESSAGE(std::string(c.name), ": oneDNN kernel ", cpu::onednn_forward_kernel(x, w, c.p), ", ", bands, " row bands");
    CHECK((bands > 1) == (std::string(c.name).find("row bands") != std::string::npos));
    const int64_t P = conv2d_output_size(c.x[2], c.w[2], c.p.stride_h, c.p.pad_h, c.p.dilation_h);
    const int64_t Q = conv2d_output_size(c.x[3], c.w[3], c.p.stride_w, c.p.pad_w, c.p.dilation_w);
    Tensor gy = random_tensor({c.x[0], c.w[0], P, Q}, ++seed, DType::kFloat32);
    std::vector<Tensor> ref = im2col_conv(x, w, b, gy, c.p);
    std::vector<Tensor> got = onednn_conv(x, w, b, gy, c.p);
    const char* names[] = {"y", "grad_x", "grad_w"};
    // The most float32 products of values in [-1, 1] one element of each sums.
    const int64_t terms[] = {c.w[1] * c.w[2] * c.w[3], c.w[0] * c.w[2] * c.w[3], c.x[0] * P * Q};
    for (size_t i = 0; i < ref.size(); ++i) {
      CAPTURE(std::string(names[i]));
      // Up to 2000 terms both sides are within 2e-6 of the exact value relative to the largest element;
      // rounding errors of sums in different orders grow about as the square root of the term count.
      const double growth = std::max(1.0, std::sqrt(static_cast<double>(terms[i]) / 2000));
      CHECK(max_abs_diff(got[i], ref[i]) <= 2e-6 * growth * std::max(1.0, max_abs(ref[i])));
    }
    // And not the same code: oneDNN's sums run in another order (a path silently falling back to im2col
    // would give the same bits).
    CHECK(max_abs_diff(got[0], ref[0]) + max_abs_diff(got[1], ref[1]) + max_abs_diff(got[2], ref[2]) > 0);
  }
}

TEST_CASE("conv2d onednn: same bits for any thread count") {
  if (!cpu::onednn_built()) {
    MESSAGE("SKIPPED: this build has no oneDNN");
    return;
  }
  AlgorithmGuard guard;
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kOneDnn);
  // Batch 5 over 1, 2 and 3 threads: images land on different threads in each run. A weight gradient with few
  // channels and many pixels per image is the case oneDNN's own threading splits by thread count. Batch 1
  // with 64 output channels: the forward's four chunks of one image spread over the threads.
  struct Config {
    Shape x, w;
  };
  uint64_t seed = 200;
  // Batch 2 with 512 input channels of 36x64: three row bands per image.
  for (const Config& c : {Config{{5, 8, 40, 40}, {8, 8, 3, 3}}, Config{{1, 16, 24, 24}, {64, 16, 3, 3}},
                          Config{{2, 512, 36, 64}, {16, 512, 3, 3}}}) {
    CAPTURE(c.x[0]);
    Tensor x = random_tensor(c.x, ++seed, DType::kFloat32), w = random_tensor(c.w, ++seed, DType::kFloat32);
    Tensor b = random_tensor({c.w[0]}, ++seed, DType::kFloat32);
    Tensor gy = random_tensor({c.x[0], c.w[0], c.x[2], c.x[3]}, ++seed, DType::kFloat32);
    REQUIRE(cpu::onednn_applies(x, w, params(1, 1, 1, 1)));  // through conv2d, the training path
    auto run = [&] {
      Tensor xg = x.clone(), wg = w.clone(), bg = b.clone();
      xg.set_requires_grad(true);
      wg.set_requires_grad(true);
      bg.set_requires_grad(true);
      Tensor y = conv2d(xg, wg, bg, params(1, 1, 1, 1));
      sum(mul(y, gy)).backward();
      return std::vector<Tensor>{y.detach(), xg.grad(), wg.grad(), bg.grad()};
    };
    set_num_threads(1);
    std::vector<Tensor> one = run();
    for (int threads : {2, 3}) {
      CAPTURE(threads);
      set_num_threads(threads);
      std::vector<Tensor> many = run();
      for (size_t i = 0; i < one.size(); ++i) CHECK(max_abs_diff(one[i], many[i]) == 0);
    }
  }
}

TEST_CASE("conv2d onednn: which convolutions conv2d gives it") {
  AlgorithmGuard guard;
  auto f32 = [](const Shape& shape, uint64_t seed) { return random_tensor(shape, seed, DType::kFloat32); };
  Tensor x = f32({1, 16, 16, 16}, 301), w = f32({16, 16, 3, 3}, 302);
  const Conv2dParams p = params(1, 1, 1, 1);
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kOneDnn);
  // 3x3 stride 1 on a 16x16 output with 16 output channels: measured faster (cpu/conv2d_onednn.cpp).
  CHECK(cpu::onednn_applies(x, w, p) == cpu::onednn_built());
  CHECK(cpu::onednn_can_run(x, w, p) == cpu::onednn_built());
  // The stem's 7x7 stride 2 too; not an 8x8 output, a 3x3 stride 2, or one output channel (measured slower),
  // though oneDNN can run them.
  CHECK(cpu::onednn_applies(f32({1, 3, 32, 32}, 303), f32({16, 3, 7, 7}, 304), params(2, 2, 3, 3)) ==
        cpu::onednn_built());
  Tensor small = f32({1, 16, 8, 8}, 305);
  CHECK_FALSE(cpu::onednn_applies(small, w, p));
  CHECK(cpu::onednn_can_run(small, w, p) == cpu::onednn_built());
  CHECK_FALSE(cpu::onednn_applies(f32({1, 16, 32, 32}, 306), w, params(2, 2, 1, 1)));
  CHECK_FALSE(cpu::onednn_applies(x, f32({1, 16, 1, 1}, 307), params(1, 1, 0, 0)));
  // Never float64 (the gradient checks' dtype: im2col's), never grouped (cpu/conv2d_grouped.cpp's kernels).
  CHECK_FALSE(cpu::onednn_can_run(x.to(DType::kFloat64), w.to(DType::kFloat64), p));
  Conv2dParams grouped = p;
  grouped.groups = 2;
  CHECK_FALSE(cpu::onednn_can_run(x, f32({16, 8, 3, 3}, 308), grouped));
  // Nor under another algorithm.
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kIm2col);
  CHECK_FALSE(cpu::onednn_applies(x, w, p));
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kWinograd);
  CHECK_FALSE(cpu::onednn_applies(x, w, p));
  // Unset, PLEURA_CPU_CONV means oneDNN where the build has it.
  CHECK(cpu::default_conv_algorithm() ==
        (cpu::onednn_built() ? cpu::ConvAlgorithm::kOneDnn : cpu::ConvAlgorithm::kIm2col));
  CHECK(cpu::parse_conv_algorithm("") == cpu::default_conv_algorithm());
  CHECK(std::string(cpu::conv_algorithm_name(cpu::ConvAlgorithm::kOneDnn)) == "onednn");
}

TEST_CASE("conv2d onednn: bad input") {
  AlgorithmGuard guard;
  expect_error([&] { cpu::parse_conv_algorithm("mkldnn"); },
               {"PLEURA_CPU_CONV is 'mkldnn'", "'im2col', 'winograd' or 'onednn'"});
  Tensor x = random_tensor({1, 4, 6, 6}, 401, DType::kFloat64), w = random_tensor({4, 4, 3, 3}, 402, DType::kFloat64);
  Tensor y = Tensor::empty({1, 4, 6, 6}, DType::kFloat64);
  if (!cpu::onednn_built()) {
    expect_error([&] { cpu::parse_conv_algorithm("onednn"); }, {"PLEURA_CPU_CONV is 'onednn'", "no oneDNN", "libdnnl-dev"});
    expect_error([&] { cpu::conv2d_onednn_fwd(x, w, Tensor(), params(1, 1, 1, 1), y); }, {"[conv2d onednn]", "no oneDNN"});
    return;
  }
  CHECK(cpu::parse_conv_algorithm("onednn") == cpu::ConvAlgorithm::kOneDnn);
  // float64 is im2col's: the kernel refuses it by name rather than reading doubles as floats.
  expect_error([&] { cpu::conv2d_onednn_fwd(x, w, Tensor(), params(1, 1, 1, 1), y); },
               {"[conv2d onednn]", "does not take this convolution", "dtype float64", "float32 with one group"});
  Tensor gx = Tensor::empty_like(x);
  expect_error([&] { cpu::conv2d_onednn_bwd(x, w, y, params(1, 1, 1, 1), &gx, nullptr); },
               {"[conv2d onednn backward]", "dtype float64"});
}
