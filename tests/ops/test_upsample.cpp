// Tests of upsample2x and upsample2x_of_concat (engine/ops/upsample.h): hand-worked nearest and bilinear
// examples with their borders, a separable reference on odd sizes, the fused form against concat then
// upsample (bitwise, forward and backward), float64 gradient checks, CPU-vs-CUDA parity, bad input.
#include "engine/ops/upsample.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/ops/concat.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

// Gradient of x for the loss out[n][c][r][col] alone: what that output element reads, with its weights.
std::vector<double> grad_of_one_output(const Tensor& x_values, UpsampleMode mode, int64_t r, int64_t col) {
  Tensor x = x_values.clone();
  x.set_requires_grad(true);
  Tensor y = upsample2x(x, mode);
  std::vector<double> onehot(static_cast<size_t>(y.numel()), 0.0);
  onehot[static_cast<size_t>(r * y.size(3) + col)] = 1.0;
  sum(mul(y, Tensor::from_vector(onehot, y.shape(), y.dtype()))).backward();
  return x.grad().to_vector();
}

// Independent 1-D statement of the scale-2, align_corners=False rule:
//   out[2j] = 0.25 in[max(j-1, 0)] + 0.75 in[j],  out[2j+1] = 0.75 in[j] + 0.25 in[min(j+1, n-1)].
std::vector<double> upsample_1d(const std::vector<double>& in) {
  int64_t n = static_cast<int64_t>(in.size());
  std::vector<double> out(static_cast<size_t>(2 * n));
  for (int64_t j = 0; j < n; ++j) {
    out[2 * j] = 0.25 * in[std::max<int64_t>(j - 1, 0)] + 0.75 * in[j];
    out[2 * j + 1] = 0.75 * in[j] + 0.25 * in[std::min<int64_t>(j + 1, n - 1)];
  }
  return out;
}

}  // namespace

TEST_CASE("upsample2x: worked example 2x2, nearest and bilinear, borders included") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  // Nearest: each input element becomes a 2x2 block.
  CHECK(upsample2x(x, UpsampleMode::kNearest).to_vector() ==
        std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // Bilinear, per dim of size 2: src = (d + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25, so
  //   d=0: in[0];  d=1: 0.75 in[0] + 0.25 in[1];  d=2: 0.25 in[0] + 0.75 in[1];
  //   d=3: i0 = 1 is the last index, so i1 = i0 and the result is in[1] (0.75 + 0.25 of the same value).
  // Columns of [1, 2] -> [1, 1.25, 1.75, 2]; of [3, 4] -> [3, 3.25, 3.75, 4]. Rows blend these the same
  // way: row 1 = 0.75 [1 ..] + 0.25 [3 ..] = [1.5, 1.75, 2.25, 2.5]; row 2 = 0.25/0.75 = [2.5, 2.75, 3.25, 3.5].
  // All weights are multiples of 1/16, so float arithmetic is exact and == is safe.
  CHECK(upsample2x(x, UpsampleMode::kBilinear).to_vector() ==
        std::vector<double>{1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});

  // Backward. d out[1][2] / dx: row 1 reads rows 0, 1 with 0.75, 0.25; column 2 reads columns 0, 1 with
  // 0.25, 0.75; so the gradient is the outer product [[0.1875, 0.5625], [0.0625, 0.1875]].
  CHECK(grad_of_one_output(x, UpsampleMode::kBilinear, 1, 2) == std::vector<double>{0.1875, 0.5625, 0.0625, 0.1875});
  // Corner out[3][3] copies in[1][1] with weight 0.75*0.75 + 0.75*0.25 + 0.25*0.75 + 0.25*0.25 = 1.
  CHECK(grad_of_one_output(x, UpsampleMode::kBilinear, 3, 3) == std::vector<double>{0, 0, 0, 1});
  CHECK(grad_of_one_output(x, UpsampleMode::kNearest, 2, 1) == std::vector<double>{0, 0, 1, 0});
  // d sum(out) / dx: nearest, 4 copies of each; bilinear, each input's weights also total 2 per dim.
  for (UpsampleMode mode : {UpsampleMode::kNearest, UpsampleMode::kBilinear}) {
    Tensor xg = x.clone();
    xg.set_requires_grad(true);
    sum(upsample2x(xg, mode)).backward();
    CHECK(xg.grad().to_vector() == std::vector<double>{4, 4, 4, 4});
  }
}

TEST_CASE("upsample2x: worked example 1x3 (a single row)") {
  Tensor x = Tensor::from_vector({1, 2, 4}, {1, 1, 1, 3});
  CHECK(upsample2x(x, UpsampleMode::kNearest).to_vector() == std::vector<double>{1, 1, 2, 2, 4, 4, 1, 1, 2, 2, 4, 4});
  // Columns, src = 0 (clamped), 0.25, 0.75, 1.25, 1.75, 2.25:
  //   1, 0.75*1 + 0.25*2 = 1.25, 0.25*1 + 0.75*2 = 1.75, 0.75*2 + 0.25*4 = 2.5, 0.25*2 + 0.75*4 = 3.5, 4.
  // With H = 1 both output rows read row 0 only (i1 = i0), so both equal that line.
  CHECK(upsample2x(x, UpsampleMode::kBilinear).to_vector() ==
        std::vector<double>{1, 1.25, 1.75, 2.5, 3.5, 4, 1, 1.25, 1.75, 2.5, 3.5, 4});
  // out[0][3] = 0.75 in[1] + 0.25 in[2]; out[1][5] = in[2] (last column: both taps on index 2).
  CHECK(grad_of_one_output(x, UpsampleMode::kBilinear, 0, 3) == std::vector<double>{0, 0.75, 0.25});
  CHECK(grad_of_one_output(x, UpsampleMode::kBilinear, 1, 5) == std::vector<double>{0, 0, 1});
}

TEST_CASE("upsample2x: bilinear matches a separable reference on odd sizes") {
  for (DType dt : {DType::kFloat64, DType::kFloat32}) {
    Tensor x = random_tensor({2, 3, 9, 11}, 51, dt);
    std::vector<double> v = x.to_vector(), expected;
    const int64_t H = 9, W = 11;
    for (int64_t pl = 0; pl < 6; ++pl) {
      // Columns first, then rows (the order does not matter mathematically).
      std::vector<std::vector<double>> rows;
      for (int64_t h = 0; h < H; ++h)
        rows.push_back(
            upsample_1d(std::vector<double>(v.begin() + (pl * H + h) * W, v.begin() + (pl * H + h + 1) * W)));
      std::vector<double> plane(static_cast<size_t>(4 * H * W));
      for (int64_t c = 0; c < 2 * W; ++c) {
        std::vector<double> col;
        for (int64_t h = 0; h < H; ++h) col.push_back(rows[h][c]);
        std::vector<double> up = upsample_1d(col);
        for (int64_t r = 0; r < 2 * H; ++r) plane[r * 2 * W + c] = up[r];
      }
      expected.insert(expected.end(), plane.begin(), plane.end());
    }
    Tensor ref = Tensor::from_vector(expected, {2, 3, 18, 22}, DType::kFloat64);
    // float64: only the association differs (1e-15); float32: the kernel rounds each product (~1e-7).
    double rtol = dt == DType::kFloat64 ? 1e-13 : 1e-6;
    expect_close(upsample2x(x, UpsampleMode::kBilinear).to(DType::kFloat64), ref, rtol, rtol, "bilinear");
  }
}

TEST_CASE("upsample2x: float64 gradient check") {
  const Shape shapes[] = {{2, 3, 5, 7}, {1, 2, 1, 3}, {2, 1, 4, 1}, {1, 1, 1, 1}};
  uint64_t seed = 61;
  for (UpsampleMode mode : {UpsampleMode::kNearest, UpsampleMode::kBilinear}) {
    for (const Shape& s : shapes) {
      const uint64_t case_seed = seed++;
      CAPTURE(case_seed);
      check_gradients([mode](const std::vector<Tensor>& in) { return upsample2x(in[0], mode); },
                      {random_tensor(s, case_seed)});
    }
  }
}

TEST_CASE("upsample2x: bilinear backward in float32 is the float64 backward rounded once") {
  // The kernel sums exact double products in double and rounds at the end, so from the same (float) gradient
  // the float32 and float64 kernels do the same double arithmetic: float32 = float(float64), bit for bit.
  for (const Shape& s : {Shape{2, 3, 17, 12}, Shape{1, 2, 1, 5}, Shape{1, 1, 64, 64}}) {
    CAPTURE(s.str());
    const Shape out{s[0], s[1], 2 * s[2], 2 * s[3]};
    const Tensor grad_y = random_tensor(out, 71, DType::kFloat32);
    std::vector<std::vector<double>> grads;
    for (DType dt : {DType::kFloat32, DType::kFloat64}) {
      Tensor x = random_tensor(s, 72, dt);
      x.set_requires_grad(true);
      sum(mul(upsample2x(x, UpsampleMode::kBilinear), grad_y.to(dt))).backward();
      grads.push_back(x.grad().to_vector());
    }
    std::vector<double> rounded = grads[1];
    for (double& v : rounded) v = static_cast<float>(v);
    CHECK(grads[0] == rounded);
  }
}

TEST_CASE("upsample2x: bad input") {
  expect_error([] { upsample2x(Tensor::zeros({3, 4, 4}), UpsampleMode::kBilinear); },
               {"[upsample2x]", "3 dims", "expected 4", "[3, 4, 4]"});
  expect_error([] { upsample2x(Tensor::zeros({1, 3, 4, 4}, DType::kInt64), UpsampleMode::kNearest); },
               {"[upsample2x]", "int64", "float32"});
  expect_error([] { upsample2x(Tensor(), UpsampleMode::kNearest); }, {"[upsample2x]", "undefined"});
  expect_error([] { upsample2x(Tensor::zeros({1, 1, 2, 2}), static_cast<UpsampleMode>(7)); },
               {"[upsample2x]", "unknown mode 7"});
}

TEST_CASE("upsample2x_of_concat: worked example, two inputs of one and two channels") {
  // Channel 0 from a, channels 1-2 from b; nearest turns each element into a 2x2 block of its channel.
  Tensor a = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor b = Tensor::from_vector({5, 6, 7, 8, -1, -2, -3, -4}, {1, 2, 2, 2});
  const std::vector<double> block_of_1_to_4{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  const std::vector<double> got = upsample2x_of_concat({a, b}, UpsampleMode::kNearest).to_vector();
  REQUIRE(got.size() == 48);
  CHECK(std::vector<double>(got.begin(), got.begin() + 16) == block_of_1_to_4);
  CHECK(std::vector<double>(got.begin() + 16, got.begin() + 32) ==
        std::vector<double>{5, 5, 6, 6, 5, 5, 6, 6, 7, 7, 8, 8, 7, 7, 8, 8});
  CHECK(std::vector<double>(got.begin() + 32, got.end()) ==
        std::vector<double>{-1, -1, -2, -2, -1, -1, -2, -2, -3, -3, -4, -4, -3, -3, -4, -4});
  // Bilinear of channel 1 (b's first): the 2x2 example above shifted by 4, so every value + 4.
  const std::vector<double> bil = upsample2x_of_concat({a, b}, UpsampleMode::kBilinear).to_vector();
  CHECK(std::vector<double>(bil.begin() + 16, bil.begin() + 32) ==
        std::vector<double>{5, 5.25, 5.75, 6, 5.5, 5.75, 6.25, 6.5, 6.5, 6.75, 7.25, 7.5, 7, 7.25, 7.75, 8});
  // Backward: d out[0, 2, 1, 2] / d b[0, 1] under bilinear is the outer product of the 2x2 example.
  Tensor bg = b.clone();
  bg.set_requires_grad(true);
  Tensor y = upsample2x_of_concat({a, bg}, UpsampleMode::kBilinear);
  std::vector<double> onehot(48, 0.0);
  onehot[32 + 1 * 4 + 2] = 1.0;
  sum(mul(y, Tensor::from_vector(onehot, y.shape()))).backward();
  CHECK(bg.grad().to_vector() == std::vector<double>{0, 0, 0, 0, 0.1875, 0.5625, 0.0625, 0.1875});
}

TEST_CASE("upsample2x_of_concat: the same bits as concat then upsample2x, forward and backward") {
  uint64_t seed = 301;
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (UpsampleMode mode : {UpsampleMode::kNearest, UpsampleMode::kBilinear}) {
      // Three inputs, one of them without channels, on odd sizes and two images.
      std::vector<Tensor> fused{random_tensor({2, 3, 5, 7}, seed++, dt), random_tensor({2, 0, 5, 7}, seed++, dt),
                                random_tensor({2, 4, 5, 7}, seed++, dt)};
      std::vector<Tensor> composed;
      for (Tensor& x : fused) {
        x.set_requires_grad(true);
        composed.push_back(x.detach().clone());
        composed.back().set_requires_grad(true);
      }
      const Tensor weights = random_tensor({2, 7, 10, 14}, seed++, dt);
      Tensor y_fused = upsample2x_of_concat(fused, mode);
      Tensor y_composed = upsample2x(concat(composed), mode);
      CHECK(y_fused.to_vector() == y_composed.to_vector());
      sum(mul(y_fused, weights)).backward();
      sum(mul(y_composed, weights)).backward();
      for (size_t k = 0; k < fused.size(); ++k) {
        CAPTURE(k);
        CHECK(fused[k].grad().shape() == composed[k].grad().shape());
        CHECK(fused[k].grad().to_vector() == composed[k].grad().to_vector());
      }
    }
  }
}

TEST_CASE("upsample2x_of_concat: float64 gradient check") {
  uint64_t seed = 321;
  for (UpsampleMode mode : {UpsampleMode::kNearest, UpsampleMode::kBilinear})
    check_gradients([mode](const std::vector<Tensor>& in) { return upsample2x_of_concat(in, mode); },
                    {random_tensor({2, 2, 3, 5}, seed++), random_tensor({2, 3, 3, 5}, seed++)});
}

TEST_CASE("upsample2x_of_concat: bad input") {
  expect_error([] { upsample2x_of_concat({}, UpsampleMode::kNearest); }, {"[upsample2x_of_concat]", "empty list"});
  expect_error([] { upsample2x_of_concat({Tensor::zeros({1, 2, 4, 4}), Tensor::zeros({1, 2, 4, 5})}, UpsampleMode::kNearest); },
               {"[upsample2x_of_concat]", "input 1", "N, H, W = 1, 4, 5", "expected 1, 4, 4"});
  expect_error([] {
    upsample2x_of_concat({Tensor::zeros({1, 2, 4, 4}), Tensor::zeros({1, 2, 4, 4}, DType::kFloat64)},
                         UpsampleMode::kBilinear);
  }, {"[upsample2x_of_concat]", "input 1", "float64"});
  expect_error([] { upsample2x_of_concat({Tensor::zeros({1, 2, 4, 4})}, static_cast<UpsampleMode>(9)); },
               {"[upsample2x_of_concat]", "unknown mode 9"});
}

TEST_CASE("upsample2x: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Shape shapes[] = {{2, 3, 9, 11}, {3, 4, 1, 5}, {2, 2, 33, 17}, {2, 16, 32, 32}};
  uint64_t seed = 71;
  for (bool wide : {false, true}) {  // the kernels' 32- and 64-bit index arithmetic
    const WideIndicesScope indices(wide);
    for (UpsampleMode mode : {UpsampleMode::kNearest, UpsampleMode::kBilinear}) {
      for (const Shape& s : shapes) {
        check_cuda_parity([mode](const std::vector<Tensor>& in) { return upsample2x(in[0], mode); },
                          {random_tensor(s, seed++, DType::kFloat32)},
                          cat("upsample2x ", mode == UpsampleMode::kNearest ? "nearest " : "bilinear ", s.str(),
                              wide ? " (64-bit indices)" : ""));
      }
    }
  }
}

TEST_CASE("upsample2x_of_concat: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  uint64_t seed = 341;
  for (bool wide : {false, true}) {
    const WideIndicesScope indices(wide);
    for (UpsampleMode mode : {UpsampleMode::kNearest, UpsampleMode::kBilinear}) {
      check_cuda_parity([mode](const std::vector<Tensor>& in) { return upsample2x_of_concat(in, mode); },
                        {random_tensor({2, 5, 9, 11}, seed++, DType::kFloat32),
                         random_tensor({2, 3, 9, 11}, seed++, DType::kFloat32),
                         random_tensor({2, 16, 9, 11}, seed++, DType::kFloat32)},
                        cat("upsample2x_of_concat ", mode == UpsampleMode::kNearest ? "nearest" : "bilinear",
                            wide ? " (64-bit indices)" : ""));
    }
  }
}
