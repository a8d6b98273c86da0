// Tests of the Winograd F(4x4, 3x3) inference kernels (cpu/conv2d_winograd_f4.cpp) against the float64
// convolution (im2col, cpu/conv2d.cpp, itself checked against plain loops and finite differences in
// test_conv2d.cpp): a worked example, the documented tolerance over odd sizes, paddings, batches and channel
// counts, the epilogue (bias, residual, ReLU), thread-count determinism, when conv2d and conv2d_relu take
// them, and bad input. Skipped, visibly, on a CPU without AVX2 and FMA.
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "cpu/conv2d_winograd_f4.h"
#include "engine/ops/add.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_relu.h"
#include "engine/ops/relu.h"
#include "engine/parallel.h"
#include "tests/ops/conv_algorithm_guard.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

Tensor winograd_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                        const cpu::ConvEpilogue& epilogue = {}) {
  Tensor y = Tensor::empty({x.size(0), w.size(0), conv2d_output_size(x.size(2), 3, 1, p.pad_h, 1),
                            conv2d_output_size(x.size(3), 3, 1, p.pad_w, 1)},
                           x.dtype());
  cpu::conv2d_winograd_f4_fwd(x, w, b, p, y, epilogue);
  return y;
}

#define REQUIRE_AVX2_OR_SKIP()                                                   \
  if (!cpu::winograd_f4_supported()) {                                           \
    MESSAGE("SKIPPED: this CPU lacks AVX2 or FMA, the F(4x4,3x3) kernels' set"); \
    return;                                                                      \
  }

// The shapes the kernels' structure depends on: output sizes not a multiple of 4 (tiles cut by the edge), a
// last block of 16 tiles running past the image, every padding 0..2 and unequal ones, batch 2, one channel,
// an output channel count that is not a multiple of the product kernel's 6, images whose tiles rows are
// shorter and longer than a block, and the UNets' channel counts.
using Case = WinogradCase;
std::vector<Case> cases() {
  return {
      {"pad 1, odd sizes, batch 2", {2, 5, 7, 9}, 7, padding(1, 1)},
      {"pad 0", {2, 3, 10, 13}, 4, padding(0, 0)},
      {"pad 2", {1, 4, 5, 6}, 3, padding(2, 2)},
      {"unequal padding 0x2", {2, 3, 8, 5}, 5, padding(0, 2)},
      {"one channel each side, 3x3 input", {1, 1, 3, 3}, 1, padding(1, 1)},
      {"32 -> 32 channels, 40x72", {1, 32, 40, 72}, 32, padding(1, 1)},
      {"wide rows (runs of 8 tiles along a row), 16 -> 16, 10x150", {1, 16, 10, 150}, 16, padding(1, 1)},
      {"128 -> 64 channels, 34x34", {1, 128, 34, 34}, 64, padding(1, 1)},
      {"512 -> 256 channels, 8x8", {1, 512, 8, 8}, 256, padding(1, 1)},
      {"blocks of 16 tiles along one row, 24 -> 20 channels, 9x200", {1, 24, 9, 200}, 20, padding(1, 1)},
      {"rows of 16 tiles cut by both edges, 16 -> 18 channels, 10x62", {2, 16, 10, 62}, 18, padding(1, 1)},
      {"rows of 32 tiles, no padding, 16 -> 16 channels, 7x130", {1, 16, 7, 130}, 16, padding(0, 0)},
  };
}

// The product kernel of the enclosing scope, restored when it ends.
struct KernelGuard {
  cpu::WinogradF4Kernel saved = cpu::winograd_f4_kernel();
  ~KernelGuard() { cpu::set_winograd_f4_kernel(saved); }
};

}  // namespace

TEST_CASE("conv2d winograd F(4x4,3x3): worked example") {
  REQUIRE_AVX2_OR_SKIP();
  // x[i][j] = 6i + j + 1 on a 6x6 image, w = [1 2 0; 0 1 0; 0 0 -1], no padding: y[p][q] = x[p][q] +
  // 2 x[p][q+1] + x[p+1][q+1] - x[p+2][q+2] = (6p+q+1) + 2 (6p+q+2) + (6p+q+8) - (6p+q+15) = 18p + 3q - 2,
  // plus the bias 0.5: one 4x4 tile.
  std::vector<double> xv(36);
  for (int i = 0; i < 36; ++i) xv[i] = i + 1;
  Tensor x = Tensor::from_vector(xv, {1, 1, 6, 6}).to(DType::kFloat32);
  Tensor w = Tensor::from_vector({1, 2, 0, 0, 1, 0, 0, 0, -1}, {1, 1, 3, 3}).to(DType::kFloat32);
  std::vector<double> expected;
  for (int p = 0; p < 4; ++p)
    for (int q = 0; q < 4; ++q) expected.push_back(18 * p + 3 * q - 2 + 0.5);
  Tensor y = winograd_forward(x, w, Tensor::from_vector({0.5}, {1}).to(DType::kFloat32), padding(0, 0));
  expect_close(y, Tensor::from_vector(expected, {1, 1, 4, 4}).to(DType::kFloat32), 0, 1e-4, "y");
}

TEST_CASE("conv2d winograd F(4x4,3x3): within 5e-5 of the largest output of the float64 convolution") {
  // The documented tolerance. Its rounding is larger than im2col's float32 rounding (the transforms multiply
  // by up to 25 and the kernel's divides by 24; the error grows with the channel count), measured at these
  // seeds as 5-60x im2col's largest error, 0.04-2.2e-5 of the largest output (2.2e-5 for 512 channels).
  REQUIRE_AVX2_OR_SKIP();
  AlgorithmGuard guard;
  cpu::set_conv_algorithm(cpu::ConvAlgorithm::kIm2col);
  uint64_t seed = 1400;
  for (const Case& c : cases()) {
    const std::string name = c.name;
    CAPTURE(name);
    Tensor x = random_tensor(c.x, seed += 10), w = random_tensor({c.k, c.x[1], 3, 3}, seed + 1);
    Tensor b = random_tensor({c.k}, seed + 2);
    Tensor y = conv2d(x, w, b, c.p);
    Tensor x32 = x.to(DType::kFloat32), w32 = w.to(DType::kFloat32), b32 = b.to(DType::kFloat32);
    const double im2col_err = max_abs_diff(conv2d(x32, w32, b32, c.p), y);
    const double winograd_err = max_abs_diff(winograd_forward(x32, w32, b32, c.p), y);
    MESSAGE(name, ": error winograd F(4x4,3x3) ", winograd_err, ", im2col ", im2col_err, ", largest output ",
            max_abs(y));
    CHECK(winograd_err <= 5e-5 * max_abs(y));
    // Without a bias too (the kernels skip its addition).
    CHECK(max_abs_diff(winograd_forward(x32, w32, Tensor(), c.p), conv2d(x, w, Tensor(), c.p)) <= 5e-5 * max_abs(y));
  }
}

TEST_CASE("conv2d winograd F(4x4,3x3): the epilogue gives the bits of the convolution, add and relu after it") {
  REQUIRE_AVX2_OR_SKIP();
  Tensor x = random_tensor({2, 16, 13, 11}, 1501, DType::kFloat32);
  Tensor w = random_tensor({10, 16, 3, 3}, 1502, DType::kFloat32);
  Tensor b = random_tensor({10}, 1503, DType::kFloat32), r = random_tensor({2, 10, 13, 11}, 1504, DType::kFloat32);
  const Conv2dParams p = padding(1, 1);
  Tensor plain = winograd_forward(x, w, b, p);
  const Tensor with_relu = winograd_forward(x, w, b, p, {.relu = true});
  CHECK(max_abs_diff(with_relu, relu(plain)) == 0);
  const Tensor with_sum = winograd_forward(x, w, b, p, {.relu = true, .residual = r.data<float>()});
  CHECK(max_abs_diff(with_sum, relu(add(plain, r))) == 0);
  CHECK(max_abs(with_sum) > 0);  // not all clipped away
}

TEST_CASE("conv2d winograd F(4x4,3x3): a patch gives the same bits whichever path computes its tile") {
  // x shifted 32 columns to the right (zeros before it, as the padding is) moves every tile 8 tiles along
  // its row and, the rows being longer, to other places in the blocks: tiles that were gathered one by one
  // (at the left edge, or in a run of 8 that crossed a row) are now in runs along a row, and the reverse.
  // The outputs move with them, the same bits.
  REQUIRE_AVX2_OR_SKIP();
  const int64_t C = 16, K = 8, H = 9, W = 150, shift = 32;
  Tensor x = random_tensor({1, C, H, W}, 1551, DType::kFloat32), w = random_tensor({K, C, 3, 3}, 1552, DType::kFloat32);
  Tensor b = random_tensor({K}, 1553, DType::kFloat32);
  Tensor shifted = Tensor::zeros({1, C, H, W + shift}, DType::kFloat32);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t v = 0; v < W; ++v)
        shifted.data<float>()[(c * H + h) * (W + shift) + v + shift] = x.data<float>()[(c * H + h) * W + v];
  const Tensor y = winograd_forward(x, w, b, padding(1, 1)), ys = winograd_forward(shifted, w, b, padding(1, 1));
  int64_t differing = 0;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t v = 0; v < W; ++v)
        differing += y.data<float>()[(k * H + h) * W + v] != ys.data<float>()[(k * H + h) * (W + shift) + v + shift];
  CHECK(differing == 0);
}

TEST_CASE("conv2d winograd F(4x4,3x3): the AVX-512 kernels give the AVX2 kernels' bits") {
  // Products 16 output channels wide instead of 6 and input transforms of 16 tiles instead of 8: the same
  // operations on every value in the same order. Every case, with the whole epilogue, and a batch of rows
  // whose blocks of 16 tiles lie along one row (the 16-tile input path) next to ones that cross rows or
  // touch an edge (the 8-tile paths).
  REQUIRE_AVX2_OR_SKIP();
  KernelGuard guard;
  if (!cpu::winograd_f4_avx512_supported()) {
    expect_error([] { cpu::set_winograd_f4_kernel(cpu::WinogradF4Kernel::kAvx512); },
                 {"[conv2d winograd F(4x4,3x3)]", "AVX-512", "lacks AVX-512F"});
    MESSAGE("SKIPPED: this CPU lacks AVX-512F, the wide kernels' set");
    return;
  }
  uint64_t seed = 1900;
  for (const Case& c : cases()) {
    const std::string name = c.name;
    CAPTURE(name);
    Tensor x = random_tensor(c.x, seed += 10, DType::kFloat32);
    Tensor w = random_tensor({c.k, c.x[1], 3, 3}, seed + 1, DType::kFloat32);
    Tensor b = random_tensor({c.k}, seed + 2, DType::kFloat32);
    Tensor r = random_tensor({c.x[0], c.k, conv2d_output_size(c.x[2], 3, 1, c.p.pad_h, 1),
                              conv2d_output_size(c.x[3], 3, 1, c.p.pad_w, 1)},
                             seed + 3, DType::kFloat32);
    const cpu::ConvEpilogue sum_relu{.relu = true, .residual = r.data<float>()};
    cpu::set_winograd_f4_kernel(cpu::WinogradF4Kernel::kAvx2);
    const Tensor narrow = winograd_forward(x, w, b, c.p), narrow_epilogue = winograd_forward(x, w, b, c.p, sum_relu);
    cpu::set_winograd_f4_kernel(cpu::WinogradF4Kernel::kAvx512);
    const Tensor wide = winograd_forward(x, w, b, c.p), wide_epilogue = winograd_forward(x, w, b, c.p, sum_relu);
    CHECK(max_abs(wide) > 0);
    CHECK(max_abs_diff(wide, narrow) == 0);
    CHECK(max_abs_diff(wide_epilogue, narrow_epilogue) == 0);
  }
}

TEST_CASE("conv2d winograd F(4x4,3x3): same bits for any thread count") {
  REQUIRE_AVX2_OR_SKIP();
  AlgorithmGuard guard;
  Tensor x = random_tensor({2, 64, 30, 36}, 1601, DType::kFloat32);
  Tensor w = random_tensor({40, 64, 3, 3}, 1602, DType::kFloat32);
  set_num_threads(1);
  const Tensor y1 = winograd_forward(x, w, Tensor(), padding(1, 1));
  set_num_threads(3);
  const Tensor y3 = winograd_forward(x, w, Tensor(), padding(1, 1));
  CHECK(max_abs_diff(y1, y3) == 0);
}

TEST_CASE("conv2d winograd F(4x4,3x3): conv2d and conv2d_relu take it only when the switch is on") {
  REQUIRE_AVX2_OR_SKIP();
  const FastInferenceConvolutionsScope restore(fast_inference_convolutions());  // the policy back afterwards
  // 2 images of 10 x 14 tiles: 280, at least the 64 (256 on AVX-512 CPUs) the rule asks for.
  Tensor x = random_tensor({2, 16, 40, 56}, 1701, DType::kFloat32);
  Tensor w = random_tensor({16, 16, 3, 3}, 1702, DType::kFloat32);
  Tensor b = random_tensor({16}, 1703, DType::kFloat32), r = random_tensor({2, 16, 40, 56}, 1704, DType::kFloat32);
  const Conv2dParams p = padding(1, 1);
  set_fast_inference_convolutions(false);
  CHECK_FALSE(cpu::winograd_f4_applies(x, w, p));
  CHECK(max_abs_diff(conv2d(x, w, b, p), winograd_forward(x, w, b, p)) > 0);  // another algorithm's rounding
  set_fast_inference_convolutions(true);
  CHECK(cpu::winograd_f4_applies(x, w, p));
  CHECK(max_abs_diff(conv2d(x, w, b, p), winograd_forward(x, w, b, p)) == 0);
  const cpu::ConvEpilogue sum_relu{.relu = true, .residual = r.data<float>()};
  CHECK(max_abs_diff(conv2d_relu(x, w, b, p, r), winograd_forward(x, w, b, p, sum_relu)) == 0);
  // Not taken: too few tiles (one image of 5 x 7: 35), float64, too few channels, stride 2, dilation 2, groups,
  // a 1x1 kernel.
  CHECK_FALSE(cpu::winograd_f4_applies(random_tensor({1, 16, 20, 28}, 1708, DType::kFloat32), w, p));
  CHECK_FALSE(cpu::winograd_f4_applies(x.to(DType::kFloat64), w.to(DType::kFloat64), p));
  CHECK_FALSE(cpu::winograd_f4_applies(x, random_tensor({8, 16, 3, 3}, 1705, DType::kFloat32), p));
  Conv2dParams q = p;
  q.stride_h = 2;
  CHECK_FALSE(cpu::winograd_f4_applies(x, w, q));
  q = p, q.dilation_w = 2;
  CHECK_FALSE(cpu::winograd_f4_applies(x, w, q));
  q = p, q.groups = 2;
  CHECK_FALSE(cpu::winograd_f4_applies(x, random_tensor({16, 8, 3, 3}, 1706, DType::kFloat32), q));
  CHECK_FALSE(cpu::winograd_f4_applies(x, random_tensor({16, 16, 1, 1}, 1707, DType::kFloat32), p));
  // PLEURA_INFER_WINOGRAD=0 keeps it off whatever a tool asks.
  setenv("PLEURA_INFER_WINOGRAD", "0", 1);
  set_fast_inference_convolutions(true);
  unsetenv("PLEURA_INFER_WINOGRAD");
  CHECK_FALSE(fast_inference_convolutions());
}

TEST_CASE("conv2d winograd F(4x4,3x3): bad input") {
  REQUIRE_AVX2_OR_SKIP();
  Tensor x = random_tensor({1, 4, 8, 8}, 1801, DType::kFloat32), w = random_tensor({4, 4, 3, 3}, 1802, DType::kFloat32);
  Conv2dParams stride2 = padding(1, 1);
  stride2.stride_w = 2;
  Tensor y = Tensor::empty({1, 4, 8, 4}, DType::kFloat32);
  expect_error([&] { cpu::conv2d_winograd_f4_fwd(x, w, Tensor(), stride2, y); },
               {"[conv2d winograd F(4x4,3x3)]", "expected a 3x3 kernel, stride 1", "stride 1x2"});
  Tensor y64 = Tensor::empty({1, 4, 8, 8}, DType::kFloat64);
  expect_error([&] {
    cpu::conv2d_winograd_f4_fwd(x.to(DType::kFloat64), w.to(DType::kFloat64), Tensor(), padding(1, 1), y64);
  }, {"[conv2d winograd F(4x4,3x3)]", "expected float32 input", "float64[1, 4, 8, 8]"});
  Tensor w5 = random_tensor({4, 4, 5, 5}, 1803, DType::kFloat32);
  expect_error([&] { cpu::conv2d_winograd_f4_fwd(x, w5, Tensor(), padding(1, 1), y); },
               {"[conv2d winograd F(4x4,3x3)]", "float32[4, 4, 5, 5]"});
}
