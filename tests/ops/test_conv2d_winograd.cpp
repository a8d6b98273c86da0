// Tests of the Winograd F(2x2, 3x3) CPU kernels (cpu/conv2d_winograd.cpp) against im2col, the reference
// (cpu/conv2d.cpp, itself checked against plain loops and finite differences in test_conv2d.cpp): worked
// examples, float64 to 1e-12, float32 within the rounding of im2col's own float32, bands of tiles, odd
// sizes and every padding, the choice conv2d makes, thread-count determinism, and bad input.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/conv2d_winograd.h"
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

// Output of a 3x3 stride-1 convolution, preallocated as the kernels expect.
Tensor output_for(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  return Tensor::empty({x.size(0), w.size(0), conv2d_output_size(x.size(2), 3, 1, p.pad_h, 1),
                        conv2d_output_size(x.size(3), 3, 1, p.pad_w, 1)},
                       x.dtype());
}

Tensor winograd_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  Tensor y = output_for(x, w, p);
  cpu::conv2d_winograd_fwd(x, w, b, p, y);
  return y;
}

Tensor winograd_input_grad(const Tensor& x, const Tensor& w, const Tensor& gy, const Conv2dParams& p) {
  Tensor gx = Tensor::empty_like(x);
  cpu::conv2d_winograd_input_grad(w, gy, p, gx);
  return gx;
}

// The im2col reference for grad_x (any dtype): cpu::conv2d_bwd with the im2col algorithm forced.
Tensor im2col_input_grad(const Tensor& x, const Tensor& w, const Tensor& gy, const Conv2dParams& p) {
  Tensor gx = Tensor::empty_like(x);
  cpu::conv2d_bwd(x, w, gy, p, &gx, nullptr, nullptr);
  return gx;
}

// The shapes the kernels' structure depends on: odd output sizes (tiles cut by the edge), every padding
// 0..2 and unequal ones, one channel, batch 2, and (last) several bands of tile rows: 128 + 128 channels,
// 33 tiles a row -> 16 tile rows a band under cpu/conv2d_winograd.cpp's 8 MiB / 512-tile rule, 3 bands.
using Case = WinogradCase;
std::vector<Case> cases() {
  return {
      {"pad 1, odd sizes, batch 2", {2, 5, 7, 9}, 6, padding(1, 1)},
      {"pad 0", {2, 3, 6, 5}, 4, padding(0, 0)},
      {"pad 2", {1, 4, 5, 6}, 3, padding(2, 2)},
      {"unequal padding 0x2", {2, 3, 8, 5}, 5, padding(0, 2)},
      {"one channel each side, 3x3 input", {1, 1, 3, 3}, 1, padding(1, 1)},
      {"UNet-like 16 -> 32 channels", {2, 16, 12, 12}, 32, padding(1, 1)},
      {"several bands of tiles", {1, 128, 66, 66}, 128, padding(1, 1)},
  };
}

// Seeded float64 inputs of one case: x, weight [K, C, 3, 3], bias [K], and a gradient for y.
struct Inputs {
  Tensor x, w, b, gy;
};
Inputs inputs_for(const Case& c, uint64_t seed) {
  Inputs in{random_tensor(c.x, seed), random_tensor({c.k, c.x[1], 3, 3}, seed + 1), random_tensor({c.k}, seed + 2), {}};
  in.gy = random_tensor({c.x[0], c.k, conv2d_output_size(c.x[2], 3, 1, c.p.pad_h, 1),
                         conv2d_output_size(c.x[3], 3, 1, c.p.pad_w, 1)},
                        seed + 3);
  return in;
}

}  // namespace

TEST_CASE("conv2d winograd: worked example, forward and input gradient") {
  // x[i][j] = 4i + j + 1 (1..16), w = [1 2 0; 0 1 0; 0 0 -1], no padding: y[p][q] = x[p][q] + 2 x[p][q+1]
  // + x[p+1][q+1] - x[p+2][q+2] = (4p+q+1) + 2(4p+q+2) + (4p+q+6) - (4p+q+11) = 12p + 3q; plus bias 0.5.
  std::vector<double> xv(16);
  for (int i = 0; i < 16; ++i) xv[i] = i + 1;
  Tensor x = Tensor::from_vector(xv, {1, 1, 4, 4});
  Tensor w = Tensor::from_vector({1, 2, 0, 0, 1, 0, 0, 0, -1}, {1, 1, 3, 3});
  Tensor y = winograd_forward(x, w, Tensor::from_vector({0.5}, {1}), padding(0, 0));
  expect_close(y, Tensor::from_vector({0.5, 3.5, 12.5, 15.5}, {1, 1, 2, 2}), 0, 1e-6, "y");
  // grad_y = ones: grad_x[h][v] sums the taps w[r][s] with 0 <= h - r <= 1 and 0 <= v - s <= 1, e.g.
  // grad_x[1][1] = w00 + w01 + w10 + w11 = 4, grad_x[3][3] = w22 = -1.
  Tensor gx = winograd_input_grad(x, w, Tensor::ones({1, 1, 2, 2}), padding(0, 0));
  expect_close(gx, Tensor::from_vector({1, 3, 2, 0, 1, 4, 3, 0, 0, 1, 0, -1, 0, 0, -1, -1}, {1, 1, 4, 4}), 0, 1e-6,
               "grad_x");
}

TEST_CASE("conv2d winograd: float64 equals im2col to 1e-12, forward and input gradient") {
  AlgorithmGuard guard;
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kIm2col);
  uint64_t seed = 400;
  for (const Case& c : cases()) {
    const Inputs in = inputs_for(c, seed += 10);
    expect_close(winograd_forward(in.x, in.w, in.b, c.p), conv2d(in.x, in.w, in.b, c.p), 1e-12, 1e-12, c.name);
    expect_close(winograd_input_grad(in.x, in.w, in.gy, c.p), im2col_input_grad(in.x, in.w, in.gy, c.p), 1e-12,
                 1e-12, c.name);
  }
}

TEST_CASE("conv2d winograd: float32 error of the order of im2col's own float32 error") {
  // Against the float64 result, the Winograd float32 outputs may be off by at most 3x what im2col's float32
  // outputs are off by on the same inputs (both measured as the largest absolute difference), and by at
  // most 1e-5 of the largest output. Measured at these seeds: Winograd 0.5-2.3x im2col's error.
  AlgorithmGuard guard;
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kIm2col);
  uint64_t seed = 500;
  for (const Case& c : cases()) {
    const std::string name = c.name;
    CAPTURE(name);
    const Inputs in = inputs_for(c, seed += 10);
    const Tensor &x = in.x, &w = in.w, &b = in.b, &gy = in.gy;
    Tensor x32 = x.to(DType::kFloat32), w32 = w.to(DType::kFloat32), b32 = b.to(DType::kFloat32);
    Tensor y = conv2d(x, w, b, c.p);
    double im2col_err = max_abs_diff(conv2d(x32, w32, b32, c.p), y);
    double winograd_err = max_abs_diff(winograd_forward(x32, w32, b32, c.p), y);
    MESSAGE(name, ": forward error winograd ", winograd_err, ", im2col ", im2col_err);
    CHECK(winograd_err <= 3 * im2col_err + 1e-7);
    CHECK(winograd_err <= 1e-5 * max_abs(y));
    Tensor gx = im2col_input_grad(x, w, gy, c.p);
    Tensor gy32 = gy.to(DType::kFloat32);
    im2col_err = max_abs_diff(im2col_input_grad(x32, w32, gy32, c.p), gx);
    winograd_err = max_abs_diff(winograd_input_grad(x32, w32, gy32, c.p), gx);
    MESSAGE(name, ": input-gradient error winograd ", winograd_err, ", im2col ", im2col_err);
    CHECK(winograd_err <= 3 * im2col_err + 1e-7);
    CHECK(winograd_err <= 1e-5 * max_abs(gx));
  }
}

TEST_CASE("conv2d winograd: when chosen, conv2d takes it for float32 3x3 stride-1 layers with enough channels") {
  AlgorithmGuard guard;
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kWinograd);
  Tensor x = random_tensor({2, 16, 10, 11}, 601, DType::kFloat32), w = random_tensor({16, 16, 3, 3}, 602, DType::kFloat32);
  Tensor b = random_tensor({16}, 603, DType::kFloat32);
  const Conv2dParams p = padding(1, 1);
  CHECK(cpu::winograd_applies(x, w, p));
  CHECK(cpu::winograd_applies_to_input_grad(x, w, p));
  // Through autograd: the forward and grad_x are the Winograd kernels' bits; grad_w stays im2col's.
  Tensor xg = x.clone(), wg = w.clone();
  xg.set_requires_grad(true);
  wg.set_requires_grad(true);
  Tensor gy = random_tensor({2, 16, 10, 11}, 604, DType::kFloat32);
  Tensor y = conv2d(xg, wg, b, p);
  CHECK(max_abs_diff(y, winograd_forward(x, w, b, p)) == 0);
  sum(mul(y, gy)).backward();
  CHECK(max_abs_diff(xg.grad(), winograd_input_grad(x, w, gy, p)) == 0);
  // Not taken: float64, too few channels, stride 2, dilation 2, groups, 1x1, padding 3 (input gradient only),
  // and anything under PLEURA_CPU_CONV=im2col.
  CHECK_FALSE(cpu::winograd_applies(x.to(DType::kFloat64), w.to(DType::kFloat64), p));
  CHECK_FALSE(cpu::winograd_applies(x, random_tensor({8, 16, 3, 3}, 605, DType::kFloat32), p));
  CHECK_FALSE(cpu::winograd_applies(random_tensor({2, 8, 10, 11}, 606, DType::kFloat32),
                                    random_tensor({16, 8, 3, 3}, 607, DType::kFloat32), p));
  Conv2dParams q = p;
  q.stride_h = 2;
  CHECK_FALSE(cpu::winograd_applies(x, w, q));
  q = p, q.dilation_w = 2;
  CHECK_FALSE(cpu::winograd_applies(x, w, q));
  q = p, q.groups = 2;
  CHECK_FALSE(cpu::winograd_applies(x, random_tensor({16, 8, 3, 3}, 608, DType::kFloat32), q));
  CHECK_FALSE(cpu::winograd_applies(x, random_tensor({16, 16, 1, 1}, 609, DType::kFloat32), p));
  CHECK(cpu::winograd_applies(x, w, padding(3, 1)));
  CHECK_FALSE(cpu::winograd_applies_to_input_grad(x, w, padding(3, 1)));
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kIm2col);
  CHECK_FALSE(cpu::winograd_applies(x, w, p));
  CHECK(max_abs_diff(conv2d(x, w, b, p), winograd_forward(x, w, b, p)) > 0);  // im2col rounds differently
}

TEST_CASE("conv2d winograd: same bits for any thread count") {
  AlgorithmGuard guard;
  Tensor x = random_tensor({1, 128, 66, 66}, 701, DType::kFloat32), w = random_tensor({32, 128, 3, 3}, 702, DType::kFloat32);
  Tensor gy = random_tensor({1, 32, 66, 66}, 703, DType::kFloat32);
  set_num_threads(1);
  Tensor y1 = winograd_forward(x, w, Tensor(), padding(1, 1)), g1 = winograd_input_grad(x, w, gy, padding(1, 1));
  set_num_threads(3);
  Tensor y3 = winograd_forward(x, w, Tensor(), padding(1, 1)), g3 = winograd_input_grad(x, w, gy, padding(1, 1));
  CHECK(max_abs_diff(y1, y3) == 0);
  CHECK(max_abs_diff(g1, g3) == 0);
}

TEST_CASE("conv2d winograd: bad input") {
  Tensor x = random_tensor({1, 4, 8, 8}, 801, DType::kFloat32), w = random_tensor({4, 4, 3, 3}, 802, DType::kFloat32);
  Conv2dParams stride2 = padding(1, 1);
  stride2.stride_h = stride2.stride_w = 2;
  Tensor y = Tensor::empty({1, 4, 4, 4});
  expect_error([&] { cpu::conv2d_winograd_fwd(x, w, Tensor(), stride2, y); },
               {"[conv2d winograd]", "expected a 3x3 kernel, stride 1", "stride 2x2"});
  Tensor w5 = random_tensor({4, 4, 5, 5}, 803, DType::kFloat32);
  expect_error([&] { cpu::conv2d_winograd_fwd(x, w5, Tensor(), padding(2, 2), y); },
               {"[conv2d winograd]", "float32[4, 4, 5, 5]"});
  Tensor gx = Tensor::empty_like(x);
  expect_error([&] { cpu::conv2d_winograd_input_grad(w, Tensor::empty({1, 4, 12, 12}), padding(3, 3), gx); },
               {"[conv2d winograd input gradient]", "padding 3x3 is above 2"});
  expect_error([&] { cpu::parse_conv_algorithm("auto"); }, {"PLEURA_CPU_CONV is 'auto'", "'im2col', 'winograd'"});
  CHECK(cpu::parse_conv_algorithm("im2col") == cpu::ConvAlgorithm::kIm2col);
  CHECK(cpu::parse_conv_algorithm("winograd") == cpu::ConvAlgorithm::kWinograd);
  CHECK(cpu::parse_conv_algorithm("") == cpu::default_conv_algorithm());
}
