// Tests of max_pool2d (engine/ops/max_pool2d.h): output sizes and worked examples for the ResNet
// (3/2/1), SE-ResNeXt (3/2/0 ceil_mode) and AlbuNet (2/2/0) pools, ties and NaN, float64 gradient
// check, CPU-vs-CUDA parity, bad input.
#include "engine/ops/max_pool2d.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

const MaxPool2dParams kResNetPool{3, 3, 2, 2, 1, 1, false};
const MaxPool2dParams kSeResNeXtPool{3, 3, 2, 2, 0, 0, true};
const MaxPool2dParams kAlbuNetPool{2, 2, 2, 2, 0, 0, false};

// Distinct values spaced 0.05 apart in random order: no ties, and a perturbation of 1e-6 can never
// change which element of a window is the largest, so the gradient check stays away from kinks.
Tensor spaced_permutation(const Shape& shape, uint64_t seed) {
  int64_t n = shape.numel();
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = 0.05 * static_cast<double>(i - n / 2) + 0.01;
  Rng rng(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.below(static_cast<uint64_t>(i + 1))]);
  return Tensor::from_vector(v, shape, DType::kFloat64);
}

// Independent naive reference: walks the padded window literally (out-of-range taps skipped, i.e.
// -infinity), keeping the first strict maximum. Returns the maxima of x [N, C, H, W] as a flat vector.
std::vector<double> naive_max_pool(const Tensor& x, const MaxPool2dParams& p, int64_t P, int64_t Q) {
  std::vector<double> v = x.to_vector(), out;
  int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t oh = 0; oh < P; ++oh)
      for (int64_t ow = 0; ow < Q; ++ow) {
        double best = -std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < p.kernel_h; ++i)
          for (int64_t j = 0; j < p.kernel_w; ++j) {
            int64_t h = oh * p.stride_h - p.pad_h + i, w = ow * p.stride_w - p.pad_w + j;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            best = std::max(best, v[(pl * H + h) * W + w]);
          }
        out.push_back(best);
      }
  return out;
}

}  // namespace

TEST_CASE("max_pool2d: output sizes (PyTorch's rule)") {
  // ResNet 3/2/1: floor((H + 2 - 3) / 2) + 1.
  CHECK(max_pool2d_out_size(512, 3, 2, 1, false) == 256);
  CHECK(max_pool2d_out_size(8, 3, 2, 1, false) == 4);
  CHECK(max_pool2d_out_size(9, 3, 2, 1, false) == 5);
  CHECK(max_pool2d_out_size(11, 3, 2, 1, false) == 6);
  // SE-ResNeXt 3/2/0 ceil: ceil((H - 3) / 2) + 1; 512 -> 256 (last window rows 510..512, over the edge),
  // 7 -> 3 (exact fit), 8 -> 4 (last window rows 6..8, over the edge), 9 -> 4, 11 -> 5.
  CHECK(max_pool2d_out_size(512, 3, 2, 0, true) == 256);
  CHECK(max_pool2d_out_size(7, 3, 2, 0, true) == 3);
  CHECK(max_pool2d_out_size(8, 3, 2, 0, true) == 4);
  CHECK(max_pool2d_out_size(9, 3, 2, 0, true) == 4);
  CHECK(max_pool2d_out_size(11, 3, 2, 0, true) == 5);
  CHECK(max_pool2d_out_size(8, 3, 2, 0, false) == 3);
  // AlbuNet 2/2/0: floor(H / 2).
  CHECK(max_pool2d_out_size(512, 2, 2, 0, false) == 256);
  CHECK(max_pool2d_out_size(9, 2, 2, 0, false) == 4);
  CHECK(max_pool2d_out_size(11, 2, 2, 0, false) == 5);
  // ceil_mode dropping a window that would start in the right padding: H 5, kernel 2, stride 2, pad 1:
  // ceil((5 + 2 - 2) / 2) + 1 = 4, but window 3 would start at 3*2 - 1 = 5 >= H, so 3 (as PyTorch).
  CHECK(max_pool2d_out_size(5, 2, 2, 1, true) == 3);
  CHECK(max_pool2d_out_size(6, 3, 2, 1, true) == 4);
  CHECK(max_pool2d_out_size(6, 3, 2, 1, false) == 3);
  // Input smaller than the kernel: no window fits.
  CHECK(max_pool2d_out_size(2, 3, 2, 0, false) < 1);

  Tensor x = Tensor::zeros({2, 3, 9, 11});
  CHECK(max_pool2d(x, kResNetPool).shape() == Shape{2, 3, 5, 6});
  CHECK(max_pool2d(x, kSeResNeXtPool).shape() == Shape{2, 3, 4, 5});
  CHECK(max_pool2d(x, kAlbuNetPool).shape() == Shape{2, 3, 4, 5});
  CHECK(max_pool2d(Tensor::zeros({1, 1, 512, 512}), kSeResNeXtPool).shape() == Shape{1, 1, 256, 256});
}

TEST_CASE("max_pool2d: worked example, ResNet pool 3/2/1 with shared argmax") {
  // 4x4 input, all windows clipped by the padding (which is -inf, so negative maxima survive):
  //   out[0][0] = max(rows 0-1, cols 0-1) = max(-1,-5,-3,-4) = -1   (flat index 0)
  //   out[0][1] = max(rows 0-1, cols 1-3) = 9                       (index 6)
  //   out[1][0] = max(rows 1-3, cols 0-1) = max(-3,-4,-7,0,4,-1) = 4 (index 12)
  //   out[1][1] = max(rows 1-3, cols 1-3) = 9                       (index 6 again: windows overlap)
  // d sum(out) / dx: 1 at index 0, 2 at index 6 (two windows chose it), 1 at index 12, 0 elsewhere.
  Tensor x = Tensor::from_vector({-1, -5, -2, -8,  //
                                  -3, -4, 9, -6,   //
                                  -7, 0, -9, -2,   //
                                  4, -1, -3, -5},
                                 {1, 1, 4, 4});
  x.set_requires_grad(true);
  Tensor y = max_pool2d(x, kResNetPool);
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y.to_vector() == std::vector<double>{-1, 9, 4, 9});
  sum(y).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0});
}

TEST_CASE("max_pool2d: the saved argmax is each window's offset, one byte for the UNets' pools") {
  CHECK(max_pool2d_offset_dtype(kResNetPool) == DType::kUInt8);
  CHECK(max_pool2d_offset_dtype({16, 16, 1, 1}) == DType::kUInt8);  // offsets 0..255
  CHECK(max_pool2d_offset_dtype({17, 16, 1, 1}) == DType::kInt64);  // 272 offsets
  // The worked example above, its windows starting at row and column -1 or 1 (padding 1): the chosen
  // elements (0,0), (1,2), (3,0), (1,2) sit at window rows and columns (1,1), (2,1), (2,1), (0,1), offsets
  // 3 i + j = 4, 7, 7, 1.
  Tensor x = Tensor::from_vector({-1, -5, -2, -8, -3, -4, 9, -6, -7, 0, -9, -2, 4, -1, -3, -5}, {1, 1, 4, 4},
                                 DType::kFloat32);
  Tensor y = Tensor::empty({1, 1, 2, 2}), argmax = Tensor::empty({1, 1, 2, 2}, DType::kUInt8);
  cpu::max_pool2d_fwd(x, kResNetPool, y, argmax);
  CHECK(y.to_vector() == std::vector<double>{-1, 9, 4, 9});
  CHECK(argmax.to_vector() == std::vector<double>{4, 7, 7, 1});
}

TEST_CASE("max_pool2d: kernels of more than 256 elements save int64 offsets (naive reference, gradients)") {
  const MaxPool2dParams big{17, 16, 3, 4, 8, 8, false};
  Tensor x = random_tensor({2, 2, 20, 21}, 61, DType::kFloat64);
  Tensor y = max_pool2d(x, big);
  CHECK(y.to_vector() == naive_max_pool(x, big, y.size(2), y.size(3)));
  check_gradients([big](const std::vector<Tensor>& in) { return max_pool2d(in[0], big); },
                  {spaced_permutation({1, 2, 20, 21}, 62)});
}

TEST_CASE("max_pool2d: worked example, SE-ResNeXt pool 3/2/0 ceil_mode, 8x8 and 7x7") {
  // x[h][w] = 8h + w grows along rows and columns, so each window's max is its bottom-right element
  // inside the input. 8x8 -> 4x4 windows start at rows 0, 2, 4, 6; the last covers rows 6..8 and is
  // clipped to 6..7. Bottom-right rows (and columns): 2, 4, 6, 7, so out[i][j] = 8 r[i] + r[j].
  std::vector<double> v;
  for (int i = 0; i < 64; ++i) v.push_back(i);
  Tensor x = Tensor::from_vector(v, {1, 1, 8, 8});
  x.set_requires_grad(true);
  Tensor y = max_pool2d(x, kSeResNeXtPool);
  REQUIRE(y.shape() == Shape{1, 1, 4, 4});
  const int r[4] = {2, 4, 6, 7};
  std::vector<double> expected, expected_grad(64, 0.0);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      expected.push_back(8 * r[i] + r[j]);
      expected_grad[8 * r[i] + r[j]] = 1.0;
    }
  CHECK(y.to_vector() == expected);
  sum(y).backward();
  CHECK(x.grad().to_vector() == expected_grad);

  // 7x7 (x = 7h + w) -> 3x3, windows fit exactly: bottom-right rows 2, 4, 6.
  std::vector<double> v7;
  for (int i = 0; i < 49; ++i) v7.push_back(i);
  Tensor y7 = max_pool2d(Tensor::from_vector(v7, {1, 1, 7, 7}), kSeResNeXtPool);
  CHECK(y7.to_vector() == std::vector<double>{16, 18, 20, 30, 32, 34, 44, 46, 48});
}

TEST_CASE("max_pool2d: worked example, AlbuNet pool 2/2/0 on 3x5 (odd sizes drop the last row/col)") {
  //  3 1 | 4 1 | 5
  //  9 2 | 6 5 | 3
  //  ----+-----+--   row 2 and column 4 belong to no window (floor mode).
  //  5 8   9 7   9
  // Windows: max(3,1,9,2) = 9 at index 5; max(4,1,6,5) = 6 at index 7.
  Tensor x = Tensor::from_vector({3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9}, {1, 1, 3, 5});
  x.set_requires_grad(true);
  Tensor y = max_pool2d(x, kAlbuNetPool);
  REQUIRE(y.shape() == Shape{1, 1, 1, 2});
  CHECK(y.to_vector() == std::vector<double>{9, 6});
  sum(y).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("max_pool2d: matches a naive reference on odd sizes, every configuration") {
  const MaxPool2dParams configs[] = {kResNetPool, kSeResNeXtPool, kAlbuNetPool, {3, 2, 1, 2, 1, 1, true}};
  for (const auto& p : configs) {
    for (DType dt : {DType::kFloat32, DType::kFloat64}) {
      Tensor x = random_tensor({2, 3, 9, 11}, 21, dt);
      Tensor y = max_pool2d(x, p);
      std::vector<double> ref = naive_max_pool(x, p, y.size(2), y.size(3));
      CHECK(y.to_vector() == ref);  // a max copies an element: exact equality is right here
    }
  }
}

TEST_CASE("max_pool2d: ties pick the first maximum, NaN propagates") {
  // 3x3 input, one 3x3 window (kernel 3, stride 1): the value 7 appears at indices 2 and 6; the first
  // in row-major order (index 2) takes the gradient, as PyTorch's CPU kernel does.
  Tensor x = Tensor::from_vector({1, 2, 7, 3, 4, 5, 7, 0, 6}, {1, 1, 3, 3});
  x.set_requires_grad(true);
  Tensor y = max_pool2d(x, {3, 3, 1, 1});
  CHECK(y.to_vector() == std::vector<double>{7});
  sum(y).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{0, 0, 1, 0, 0, 0, 0, 0, 0});

  // All equal: the first element of each 2x2 window wins.
  Tensor e = Tensor::full({1, 1, 2, 4}, 3.0);
  e.set_requires_grad(true);
  sum(max_pool2d(e, kAlbuNetPool)).backward();
  CHECK(e.grad().to_vector() == std::vector<double>{1, 0, 1, 0, 0, 0, 0, 0});

  // A NaN in the first window makes that output NaN (and takes its gradient); the second is unaffected.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor n = Tensor::from_vector({1, nan, 2, 3, 4, 5, 6, 0}, {1, 1, 2, 4});
  n.set_requires_grad(true);
  Tensor yn = max_pool2d(n, kAlbuNetPool);
  std::vector<double> vn = yn.to_vector();
  CHECK(std::isnan(vn[0]));
  CHECK(vn[1] == 6);
  // sum's gradient is 1 everywhere, even though the loss itself is NaN.
  sum(yn).backward();
  CHECK(n.grad().to_vector() == std::vector<double>{0, 1, 0, 0, 0, 0, 1, 0});
}

TEST_CASE("max_pool2d: without a backward to come, the same bits (ties of +0 and -0, NaN, -infinity)") {
  // Inference skips the argmax and takes another path (cpu/max_pool2d.cpp, plane_maxima): every output must
  // be the very element the argmax path picks, the sign of a zero and which NaN included.
  const MaxPool2dParams configs[] = {kResNetPool, kSeResNeXtPool, kAlbuNetPool, {3, 2, 1, 2, 1, 1, true}, {3, 3, 1, 1}};
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  uint64_t seed = 51;
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (const auto& p : configs) {
      Tensor x = random_tensor({2, 3, 9, 11}, seed++, dt);
      // Small integers and zeros of both signs make many ties; a few NaNs (one negative) and -infinities.
      std::vector<double> v = x.to_vector();
      for (size_t i = 0; i < v.size(); ++i) {
        v[i] = std::round(v[i] * 2);
        if (v[i] == 0) v[i] = i % 2 == 0 ? 0.0 : -0.0;
      }
      v[5] = nan, v[40] = -nan, v[41] = nan, v[77] = -inf, v[150] = -inf, v[151] = -inf;
      x = Tensor::from_vector(v, x.shape(), dt);
      Tensor with_argmax;
      {
        Tensor leaf = x.clone().set_requires_grad(true);
        with_argmax = max_pool2d(leaf, p).detach();
      }
      Tensor without;
      {
        NoGradGuard no_grad;
        without = max_pool2d(x, p);
      }
      REQUIRE(without.shape() == with_argmax.shape());
      // As doubles (the conversion keeps a zero's sign and a NaN's sign and payload), byte for byte.
      const std::vector<double> a = without.to_vector(), b = with_argmax.to_vector();
      CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
      int64_t negative_zeros = 0;
      for (double value : a) negative_zeros += value == 0 && std::signbit(value);
      CHECK(negative_zeros > 0);  // the ties of zeros really were there
    }
  }
}

TEST_CASE("max_pool2d: float64 gradient check") {
  const MaxPool2dParams configs[] = {kResNetPool, kSeResNeXtPool, kAlbuNetPool, {3, 2, 1, 2, 1, 1, true}};
  const Shape shapes[] = {{2, 3, 9, 11}, {2, 2, 8, 8}, {1, 2, 7, 7}};
  uint64_t seed = 31;
  for (const auto& p : configs) {
    for (const Shape& s : shapes) {
      const uint64_t case_seed = seed++;
      CAPTURE(case_seed);
      check_gradients([p](const std::vector<Tensor>& in) { return max_pool2d(in[0], p); },
                      {spaced_permutation(s, case_seed)});
    }
  }
}

TEST_CASE("max_pool2d: bad input") {
  Tensor x = Tensor::zeros({2, 3, 8, 8});
  expect_error([&] { max_pool2d(Tensor::zeros({3, 8, 8}), kResNetPool); },
               {"[max_pool2d]", "3 dims", "expected 4", "[3, 8, 8]"});
  expect_error([&] { max_pool2d(Tensor::zeros({2, 3, 8, 8}, DType::kUInt8), kResNetPool); },
               {"[max_pool2d]", "uint8", "float32"});
  expect_error([&] { max_pool2d(Tensor(), kResNetPool); }, {"[max_pool2d]", "undefined"});
  expect_error([&] { max_pool2d(x, {0, 3, 2, 2}); }, {"[max_pool2d]", "kernel is 0x3", ">= 1"});
  expect_error([&] { max_pool2d(x, {3, 3, 2, 0}); }, {"[max_pool2d]", "stride is 2x0", ">= 1"});
  expect_error([&] { max_pool2d(x, {3, 3, 2, 2, -1, 0}); }, {"[max_pool2d]", "padding is -1x0"});
  expect_error([&] { max_pool2d(x, {3, 3, 2, 2, 2, 1}); },
               {"[max_pool2d]", "padding 2x1", "half the kernel 3x3", "kernel / 2 = 1x1"});
  expect_error([&] { max_pool2d(x, {2, 2, 2, 2, 0, 2}); }, {"[max_pool2d]", "padding 0x2", "kernel 2x2"});
  // H = 1 < kernel 3 even with ceil_mode (H = 2 would give one clipped window, as in PyTorch).
  expect_error([&] { max_pool2d(Tensor::zeros({2, 3, 1, 9}), kSeResNeXtPool); },
               {"[max_pool2d]", "output size would be 0x4", "[2, 3, 1, 9]", "kernel 3x3"});
  CHECK(max_pool2d(Tensor::zeros({2, 3, 2, 9}), kSeResNeXtPool).shape() == Shape{2, 3, 1, 4});
}

TEST_CASE("max_pool2d: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const MaxPool2dParams configs[] = {kResNetPool, kSeResNeXtPool, kAlbuNetPool, {3, 2, 1, 2, 1, 1, true},
                                     {17, 16, 3, 4, 8, 8, false}};
  const char* names[] = {"3/2/1", "3/2/0 ceil", "2/2/0", "3x2/1x2/1 ceil", "17x16/3x4/8 (int64 offsets)"};
  // 8x8 and 9x11 put the ceil_mode windows over the bottom and right edges; 7x13 fits exactly in H.
  const Shape shapes[] = {{2, 3, 9, 11}, {2, 5, 8, 8}, {3, 4, 7, 13}, {2, 2, 64, 66}};
  uint64_t seed = 41;
  for (bool wide : {false, true}) {  // the kernels' 32- and 64-bit index arithmetic
    const WideIndicesScope indices(wide);
    for (int k = 0; k < 5; ++k) {
      for (const Shape& s : shapes) {
        const Tensor x = random_tensor(s, seed++, DType::kFloat32);
        check_cuda_parity([p = configs[k]](const std::vector<Tensor>& in) { return max_pool2d(in[0], p); }, {x},
                          cat("max_pool2d ", names[k], " ", s.str(), wide ? " (64-bit indices)" : ""));
        NoGradGuard no_grad;  // the forward without an argmax
        CHECK(max_abs_diff(max_pool2d(x.to(Device::cuda()), configs[k]).to(Device::cpu()), max_pool2d(x, configs[k])) == 0);
      }
    }
  }
}
