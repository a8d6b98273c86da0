// Tests of conv2d (engine/ops/conv2d.h; kernels cpu/conv2d.cpp and cuda/conv2d.cu): worked examples, a naive
// loop reference, float64 gradient checks over the parameter variants, thread-count determinism, bad input,
// and CPU-vs-CUDA parity (gpu suite).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "engine/parallel.h"
#include "engine/autograd.h"
#include "engine/counters.h"
#include "engine/conv_algorithm_choice.h"
#include "engine/cuda_runtime.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/round_bf16.h"
#include "engine/precision.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

Conv2dParams params(int64_t stride, int64_t pad, int64_t dilation = 1, int64_t groups = 1) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  p.dilation_h = p.dilation_w = dilation;
  p.groups = groups;
  return p;
}

// One configuration of the sweeps: x [N,C,H,W], weight [K,C/groups,R,S], params, bias or not.
struct Case {
  const char* name;
  Shape x, w;
  Conv2dParams p;
  bool bias = true;
};

std::vector<Case> variants() {
  Conv2dParams asym;  // every h/w parameter different, to catch a swapped axis
  asym.stride_h = 2, asym.stride_w = 1, asym.pad_h = 0, asym.pad_w = 2, asym.dilation_h = 1, asym.dilation_w = 2;
  Conv2dParams asym_groups = asym;  // and the other way round, grouped
  asym_groups.stride_h = 1, asym_groups.stride_w = 2, asym_groups.pad_h = 1, asym_groups.pad_w = 0;
  asym_groups.dilation_h = 2, asym_groups.dilation_w = 1, asym_groups.groups = 2;
  return {
      {"3x3 pad 1", {2, 3, 5, 6}, {4, 3, 3, 3}, params(1, 1)},
      {"3x3 stride 2 pad 1", {2, 3, 7, 6}, {4, 3, 3, 3}, params(2, 1)},
      {"3x3 dilation 2 pad 2", {2, 2, 7, 8}, {3, 2, 3, 3}, params(1, 2, 2)},
      {"groups 2 (C=4)", {2, 4, 5, 5}, {6, 2, 3, 3}, params(1, 1, 1, 2)},
      {"depthwise (groups = C = K)", {2, 3, 6, 5}, {3, 1, 3, 3}, params(1, 1, 1, 3)},
      {"depthwise, multiplier 2", {2, 3, 5, 5}, {6, 1, 3, 3}, params(2, 1, 1, 3)},
      {"1x1 (no im2col)", {2, 5, 4, 3}, {3, 5, 1, 1}, params(1, 0)},
      {"1x1 groups 2 (no im2col)", {2, 4, 3, 5}, {6, 2, 1, 1}, params(1, 0, 1, 2)},
      {"1x1 stride 2", {2, 4, 5, 7}, {3, 4, 1, 1}, params(2, 0)},
      {"7x7 stride 2 pad 3", {1, 3, 11, 9}, {4, 3, 7, 7}, params(2, 3)},
      {"rectangular 2x3, mixed stride/pad/dilation", {2, 3, 7, 9}, {4, 3, 2, 3}, asym},
      {"3x3 pad 1, no bias", {2, 3, 5, 6}, {4, 3, 3, 3}, params(1, 1), false},
      // Grouped, few channels per group: the direct kernels of cpu/conv2d_grouped.cpp.
      {"groups 32, 4 per group (ResNeXt), pad 1", {2, 128, 6, 7}, {128, 4, 3, 3}, params(1, 1, 1, 32)},
      {"groups 32, 4 per group, stride 2 pad 1", {2, 128, 7, 9}, {128, 4, 3, 3}, params(2, 1, 1, 32)},
      {"groups 4, 5 -> 3 per group, dilation 2, 37 columns", {1, 20, 6, 37}, {12, 5, 3, 3}, params(1, 2, 2, 4)},
      {"groups 2, rectangular 2x3, mixed stride/pad/dilation", {2, 4, 7, 9}, {4, 2, 2, 3}, asym_groups},
  };
}

Tensor run_conv(const std::vector<Tensor>& in, const Conv2dParams& p) {
  return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), p);
}

// Plain loops over the definition, in double: y[n,k,p,q] = b[k] + sum over c, r, s of
// x[n, g*Cg + c, p*sh - ph + r*dh, q*sw - pw + s*dw] * w[k, c, r, s], g = k / Kg.
std::vector<double> naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  std::vector<double> xv = x.to_vector(), wv = w.to_vector(), bv = b.defined() ? b.to_vector() : std::vector<double>();
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0), R = w.size(2), S = w.size(3);
  int64_t P = conv2d_output_size(H, R, p.stride_h, p.pad_h, p.dilation_h);
  int64_t Q = conv2d_output_size(W, S, p.stride_w, p.pad_w, p.dilation_w);
  int64_t Cg = C / p.groups, Kg = K / p.groups;
  std::vector<double> y(static_cast<size_t>(N * K * P * Q));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < P; ++oh)
        for (int64_t ow = 0; ow < Q; ++ow) {
          double s = bv.empty() ? 0.0 : bv[k];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t t = 0; t < S; ++t) {
                int64_t h = oh * p.stride_h - p.pad_h + r * p.dilation_h;
                int64_t v = ow * p.stride_w - p.pad_w + t * p.dilation_w;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                s += xv[((n * C + (k / Kg) * Cg + c) * H + h) * W + v] * wv[((k * Cg + c) * R + r) * S + t];
              }
          y[((n * K + k) * P + oh) * Q + ow] = s;
        }
  return y;
}

// The gradients of sum(y * gy) by the same plain loops: grad_x and grad_w, in double.
struct NaiveGrads {
  std::vector<double> x, w;
};
NaiveGrads naive_conv_grads(const Tensor& x, const Tensor& w, const Tensor& gy, const Conv2dParams& p) {
  std::vector<double> xv = x.to_vector(), wv = w.to_vector(), gv = gy.to_vector();
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0), R = w.size(2), S = w.size(3);
  int64_t P = gy.size(2), Q = gy.size(3), Cg = C / p.groups, Kg = K / p.groups;
  NaiveGrads g{std::vector<double>(xv.size()), std::vector<double>(wv.size())};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < P; ++oh)
        for (int64_t ow = 0; ow < Q; ++ow) {
          double d = gv[((n * K + k) * P + oh) * Q + ow];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t t = 0; t < S; ++t) {
                int64_t h = oh * p.stride_h - p.pad_h + r * p.dilation_h;
                int64_t v = ow * p.stride_w - p.pad_w + t * p.dilation_w;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                int64_t xi = ((n * C + (k / Kg) * Cg + c) * H + h) * W + v, wi = ((k * Cg + c) * R + r) * S + t;
                g.x[xi] += wv[wi] * d;
                g.w[wi] += xv[xi] * d;
              }
        }
  return g;
}

// Restores the CPU thread count when the test ends, even on failure.
struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("conv2d: worked example, 3x3 input, 2x2 kernel, bias") {
  // x = [1 2 3; 4 5 6; 7 8 9], w = [1 2; 3 4], b = 0.5. By hand: y00 = 1*1 + 2*2 + 4*3 + 5*4 + 0.5 = 37.5,
  // y01 = 2 + 6 + 15 + 24 + 0.5 = 47.5, y10 = 4 + 10 + 21 + 32 + 0.5 = 67.5, y11 = 5 + 12 + 24 + 36 + 0.5 = 77.5.
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor b = Tensor::from_vector({0.5}, {1});
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor y = conv2d(x, w, b);
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  expect_close(y, Tensor::from_vector({37.5, 47.5, 67.5, 77.5}, {1, 1, 2, 2}), 0, 1e-6, "y");
  sum(y).backward();
  // d sum(y)/dw[r,s] = sum of the 2x2 block of x at offset (r,s): 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9.
  expect_close(w.grad(), Tensor::from_vector({12, 16, 24, 28}, {1, 1, 2, 2}), 0, 1e-6, "grad_w");
  // d sum(y)/dx[h,v] = sum of the kernel taps that touch (h,v); the centre is touched by all four (10).
  expect_close(x.grad(), Tensor::from_vector({1, 3, 2, 4, 10, 6, 3, 7, 4}, {1, 1, 3, 3}), 0, 1e-6, "grad_x");
  expect_close(b.grad(), Tensor::from_vector({4}, {1}), 0, 1e-6, "grad_b");  // four outputs
}

TEST_CASE("conv2d: worked example, stride 2 and padding 1") {
  // 3x3 ones kernel, stride 2, pad 1 on x = [1..9]: P = Q = (3 + 2 - 2 - 1) / 2 + 1 = 2. Window centres
  // (0,0), (0,2), (2,0), (2,2) sum the in-bounds 2x2 corners: 1+2+4+5 = 12, 16, 24, 28.
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = Tensor::ones({1, 1, 3, 3});
  x.set_requires_grad(true);
  Tensor y = conv2d(x, w, Tensor(), params(2, 1));
  expect_close(y, Tensor::from_vector({12, 16, 24, 28}, {1, 1, 2, 2}), 0, 1e-6, "y");
  sum(y).backward();
  // Each x element's gradient counts the windows covering it: rows/cols 0 and 2 are in one, 1 in two.
  expect_close(x.grad(), Tensor::from_vector({1, 2, 1, 2, 4, 2, 1, 2, 1}, {1, 1, 3, 3}), 0, 1e-6, "grad_x");
}

TEST_CASE("conv2d: forward matches a naive loop reference") {
  for (const Case& c : variants()) {
    CAPTURE(c.name);
    Tensor x = random_tensor(c.x, 21), w = random_tensor(c.w, 22), b = random_tensor({c.w[0]}, 23);
    if (!c.bias) b = Tensor();
    Tensor y = conv2d(x, w, b, c.p);
    expect_close(y, Tensor::from_vector(naive_conv(x, w, b, c.p), y.shape(), DType::kFloat64), 1e-12, 1e-12, c.name);
  }
  // Big enough that the column matrix is built in several bands of output rows (with the 4 MiB band budget
  // of cpu/conv2d.cpp: 576 x 32 x 8 bytes per output row, so bands of 28 and 4 rows).
  Tensor x = random_tensor({2, 64, 32, 32}, 24), w = random_tensor({5, 64, 3, 3}, 25), b = random_tensor({5}, 26);
  Tensor y = conv2d(x, w, b, params(1, 1));
  expect_close(y, Tensor::from_vector(naive_conv(x, w, b, params(1, 1)), y.shape(), DType::kFloat64), 1e-12, 1e-12,
               "banded column matrix");
}

TEST_CASE("conv2d: float64 gradient check") {
  // Convolution is linear in each input, so the central difference has no truncation error for any step:
  // only rounding, which a step of 1e-3 (instead of the default 1e-6) makes 1000x smaller. (With 1e-6, the
  // rounding of the ~1e3-term weighted sum alone reaches ~1e-8, i.e. 1e-6 relative on small gradients.)
  // Inputs: random from fixed seeds (any values work, there are no kinks).
  GradCheckOptions opt;
  opt.eps = 1e-3;
  uint64_t seed = 100;
  for (const Case& c : variants()) {
    SUBCASE(c.name) {
      Tensor x = random_tensor(c.x, seed), w = random_tensor(c.w, seed + 1), b = random_tensor({c.w[0]}, seed + 2);
      Conv2dParams p = c.p;
      auto fn = [p](const std::vector<Tensor>& in) { return run_conv(in, p); };
      check_gradients(fn, c.bias ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x, w}, opt);
    }
    seed += 10;
  }
  SUBCASE("banded column matrix (several chunks of output rows)") {
    Tensor x = random_tensor({2, 64, 32, 32}, 31), w = random_tensor({3, 64, 3, 3}, 32), b = random_tensor({3}, 33);
    check_gradients([](const std::vector<Tensor>& in) { return run_conv(in, params(1, 1)); }, {x, w, b}, opt);
  }
}

TEST_CASE("conv2d: grouped direct kernels match naive loops, forward and backward") {
  // The direct path (cpu/conv2d_grouped.cpp) in the shapes its structure depends on: several bands of rows per
  // task (the 256 KiB packing budget: 2 rows per band below with 32 channels per group and 200 columns in
  // float64), both column phases of stride 2, a last strip of 5 of 16 columns, more output than input channels
  // per group. float64: only the summation order differs from the loops (1e-12). float32: sums of up to a few
  // hundred float products (grad_w: N*P*Q terms), judged against the largest value of each tensor (1e-5).
  struct GroupedCase {
    const char* name;
    Shape x, w;
    Conv2dParams p;
    DType dtype;
  };
  const GroupedCase cases[] = {
      {"32 per group, 200 columns: 3 bands", {1, 64, 6, 200}, {64, 32, 3, 3}, params(1, 1, 1, 2), DType::kFloat64},
      {"32 per group, stride 2, 201 columns: 5 bands", {1, 64, 9, 201}, {64, 32, 3, 3}, params(2, 1, 1, 2),
       DType::kFloat64},
      {"groups 8, 2 -> 6 per group, 1x1 pad 1", {2, 16, 5, 6}, {48, 2, 1, 1}, params(1, 1, 1, 8), DType::kFloat64},
      // grad_x reads every 2nd column of grad_y starting at an odd packed column.
      {"groups 4, 1x1 stride 2 pad 1", {2, 8, 7, 9}, {8, 2, 1, 1}, params(2, 1, 1, 4), DType::kFloat64},
      // 32 columns (whole strips) and 7 rows: grad_w's flat sums end in a short vector with real columns.
      {"groups 32, 32 columns, 7 rows", {2, 64, 7, 32}, {64, 2, 3, 3}, params(1, 1, 1, 32), DType::kFloat64},
      {"ResNeXt-like float32, 37 columns", {2, 128, 9, 37}, {128, 4, 3, 3}, params(1, 1, 1, 32), DType::kFloat32},
      {"ResNeXt-like float32, stride 2", {2, 128, 9, 37}, {128, 4, 3, 3}, params(2, 1, 1, 32), DType::kFloat32},
  };
  uint64_t seed = 60;
  for (const GroupedCase& c : cases) {
    CAPTURE(c.name);
    Tensor x = random_tensor(c.x, seed, c.dtype), w = random_tensor(c.w, seed + 1, c.dtype);
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    Tensor y = conv2d(x, w, Tensor(), c.p);
    Tensor gy = random_tensor(y.shape(), seed + 2, c.dtype, 0.5, 1.5);
    sum(mul(y, gy)).backward();
    std::vector<double> y_ref = naive_conv(x.detach(), w.detach(), Tensor(), c.p);
    NaiveGrads g = naive_conv_grads(x.detach(), w.detach(), gy, c.p);
    auto check = [&](const Tensor& got, const std::vector<double>& ref, const char* what) {
      double scale = 0.0;
      for (double v : ref) scale = std::max(scale, std::fabs(v));
      double tol = c.dtype == DType::kFloat64 ? 1e-12 : 1e-5;
      expect_close(got.to(DType::kFloat64), Tensor::from_vector(ref, got.shape(), DType::kFloat64), tol, tol * scale,
                   what);
    };
    check(y, y_ref, "y");
    check(x.grad(), g.x, "grad_x");
    check(w.grad(), g.w, "grad_w");
    seed += 10;
  }
}

TEST_CASE("conv2d: only the needed gradients are computed") {
  // The first layer's input needs no gradient: the node must not produce one (and weight still gets its own).
  Tensor x = random_tensor({2, 3, 5, 5}, 41), w = random_tensor({4, 3, 3, 3}, 42), b = random_tensor({4}, 43);
  w.set_requires_grad(true);
  sum(conv2d(x, w, b, params(1, 1))).backward();
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(b.grad().defined());
  REQUIRE(w.grad().defined());
  CHECK(w.grad().shape() == w.shape());
  // Only the bias: the kernel gets null grad_x and grad_w, and grad_b = sum of grad_y per channel = N*P*Q = 50.
  Tensor b2 = random_tensor({4}, 44);
  b2.set_requires_grad(true);
  sum(conv2d(x, w.detach(), b2, params(1, 1))).backward();
  expect_close(b2.grad(), Tensor::full({4}, 50.0, DType::kFloat64), 0, 1e-12, "grad_b");
}

TEST_CASE("conv2d: same bits for any thread count") {
  ThreadCountGuard restore;
  // float32, 432 x 3600 column matrix per image: two bands of output rows (40 and 20 with the 4 MiB budget of
  // cpu/conv2d.cpp). A single OpenBLAS product with K = 432 (the forward here) rounds differently at 1 and 2
  // threads on the development machine; this test caught that, and the K blocks of cpu/conv2d.cpp fixed it.
  // groups 2 and 16 (24 and 3 channels per group) take the direct kernels of cpu/conv2d_grouped.cpp.
  Tensor x0 = random_tensor({2, 48, 60, 60}, 51, DType::kFloat32);
  Tensor w0 = random_tensor({16, 24, 3, 3}, 52, DType::kFloat32);
  Tensor b0 = random_tensor({16}, 53, DType::kFloat32);
  Tensor gw = random_tensor({2, 16, 60, 60}, 54, DType::kFloat32, 0.5, 1.5);
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<Tensor> out;
    for (int64_t groups : {1, 2, 16}) {
      Tensor x = x0.clone(), b = b0.clone();
      Tensor w = groups == 1   ? random_tensor({16, 48, 3, 3}, 55, DType::kFloat32)
                 : groups == 2 ? w0.clone()
                               : random_tensor({16, 3, 3, 3}, 56, DType::kFloat32);
      x.set_requires_grad(true);
      w.set_requires_grad(true);
      b.set_requires_grad(true);
      Tensor y = conv2d(x, w, b, params(1, 1, 1, groups));
      sum(mul(y, gw)).backward();
      out.insert(out.end(), {y.detach(), x.grad(), w.grad(), b.grad()});
    }
    return out;
  };
  std::vector<Tensor> one = run(1);
  for (int threads : {2, 3}) {
    std::vector<Tensor> many = run(threads);
    const std::string names[] = {"y", "grad_x", "grad_w", "grad_b"};
    for (size_t i = 0; i < one.size(); ++i) {
      CAPTURE(threads);
      CAPTURE(names[i % 4]);
      CAPTURE(i / 4);  // 0: groups 1 (im2col + GEMM), 1: groups 2, 2: groups 16 (direct grouped kernels)
      // Bitwise identity is the point here, so the raw bytes are compared.
      REQUIRE(one[i].nbytes() == many[i].nbytes());
      CHECK(std::memcmp(one[i].raw(), many[i].raw(), one[i].nbytes()) == 0);
    }
  }
}

namespace {

struct ConvRun {
  std::vector<double> y, grad_x, grad_w, grad_b;
};

// y = conv2d(x, w, b) and the gradients of sum(y * c) (c: bfloat16-exact values, so grad_y = c is the same
// rounded or not).
ConvRun conv_with_gradients(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Conv2dParams& p, uint64_t seed,
                            bool round_output) {
  Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
  for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
  Tensor y = conv2d(x, w, b, p);
  Tensor c = upload(round_bf16(random_tensor(y.shape(), seed, DType::kFloat32)), y.device());
  sum(mul(y, c)).backward();
  ConvRun r{y.to_vector(), x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector()};
  if (round_output) {
    auto round_all = [](std::vector<double>& v) {
      Tensor t = round_bf16(Tensor::from_vector(v, {static_cast<int64_t>(v.size())}));
      v = t.to_vector();
    };
    for (auto* v : {&r.y, &r.grad_x, &r.grad_w, &r.grad_b}) round_all(*v);
  }
  return r;
}

}  // namespace

TEST_CASE("conv2d: in bf16 it is the float32 convolution of bf16-rounded values, output and gradients rounded") {
  const Conv2dParams p{.stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 2};
  const Tensor x = random_tensor({2, 5, 9, 11}, 81, DType::kFloat32);
  const Tensor w = random_tensor({6, 5, 3, 3}, 82, DType::kFloat32);
  const Tensor b = random_tensor({6}, 83, DType::kFloat32);
  ConvRun bf16;
  {
    const PrecisionScope scope(Precision::kBFloat16);
    bf16 = conv_with_gradients(x, w, b, p, 84, false);
  }
  // The reference: float32 policy on the rounded leaves, everything rounded after.
  const ConvRun want = conv_with_gradients(round_bf16(x), round_bf16(w), round_bf16(b), p, 84, true);
  CHECK(bf16.y == want.y);
  CHECK(bf16.grad_x == want.grad_x);
  CHECK(bf16.grad_w == want.grad_w);
  CHECK(bf16.grad_b == want.grad_b);
  // Every value bfloat16-exact, and not the float32 result (the policy does something).
  for (double v : bf16.y) CHECK(round_to_bf16(static_cast<float>(v)) == static_cast<float>(v));
  CHECK(bf16.y != conv_with_gradients(x, w, b, p, 84, false).y);
  // float64 convolutions (the gradient checks) are left in float64.
  const Tensor x64 = random_tensor({1, 2, 5, 5}, 85), w64 = random_tensor({3, 2, 3, 3}, 86);
  const std::vector<double> plain = conv2d(x64, w64, Tensor()).to_vector();
  const PrecisionScope scope(Precision::kBFloat16);
  CHECK(conv2d(x64, w64, Tensor()).to_vector() == plain);
}

TEST_CASE("conv2d: bad input") {
  Tensor x = Tensor::zeros({2, 3, 8, 8});
  Tensor w = Tensor::zeros({4, 3, 3, 3});
  expect_error(
      [&] {
        conv2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor());
      },
      {"[conv2d]", "input has 3 channels", "weight expects 2", "float32[2, 3, 8, 8]", "float32[4, 2, 3, 3]"});
  expect_error(
      [&] {
        conv2d(Tensor::zeros({1, 4, 5, 5}), Tensor::zeros({5, 2, 3, 3}), Tensor(), params(1, 1, 1, 2));
      },
      {"[conv2d]", "5 output channels", "not divisible by groups 2", "float32[5, 2, 3, 3]"});
  expect_error([&] { conv2d(x, w, Tensor::zeros({3})); }, {"[conv2d]", "bias has shape [3]", "expected [4]"});
  expect_error([&] { conv2d(x, w, Tensor::zeros({4, 1})); }, {"[conv2d]", "bias has shape [4, 1]", "expected [4]"});
  expect_error(
      [&] {
        conv2d(Tensor::zeros({1, 3, 2, 8}), w, Tensor());
      },
      {"[conv2d]", "output would be 0x6", "float32[1, 3, 2, 8]", "float32[4, 3, 3, 3]"});
  expect_error([&] { conv2d(Tensor::zeros({3, 8, 8}), w, Tensor()); }, {"[conv2d]", "input has 3 dims, expected 4"});
  expect_error([&] { conv2d(x, Tensor::zeros({4, 3, 3}), Tensor()); }, {"[conv2d]", "weight has 3 dims, expected 4"});
  expect_error(
      [&] {
        conv2d(x, Tensor::zeros({4, 3, 3, 3}, DType::kFloat64), Tensor());
      },
      {"[conv2d]", "weight has dtype float64", "input has dtype float32"});
  expect_error([&] { conv2d(x, w, Tensor::zeros({4}, DType::kFloat64)); }, {"[conv2d]", "bias has dtype float64"});
  expect_error([&] { conv2d(Tensor::zeros({2, 3, 8, 8}, DType::kUInt8), w, Tensor()); }, {"[conv2d]", "uint8"});
  expect_error([&] { conv2d(x, Tensor(), Tensor()); }, {"[conv2d]", "weight is an undefined tensor"});
  expect_error([&] { conv2d(x, w, Tensor(), params(0, 1)); }, {"[conv2d]", "stride is 0x0"});
  expect_error([&] { conv2d(x, w, Tensor(), params(1, -1)); }, {"[conv2d]", "padding is -1x-1"});
  expect_error([&] { conv2d(x, w, Tensor(), params(1, 1, 0)); }, {"[conv2d]", "dilation is 0x0"});
  expect_error([&] { conv2d(x, w, Tensor(), params(1, 1, 1, 0)); }, {"[conv2d]", "groups is 0"});
  expect_error([&] { conv2d(Tensor::zeros({0, 3, 8, 8}), w, Tensor()); }, {"[conv2d]", "empty tensor"});
  if (cuda::device_count() > 0) {
    expect_error([&] { conv2d(x, w.to(Device::cuda()), Tensor()); }, {"[conv2d]", "weight is on cuda"});
    expect_error(
        [&] { conv2d(x.to(DType::kFloat64).to(Device::cuda()), w.to(DType::kFloat64).to(Device::cuda()), Tensor()); },
        {"[conv2d]", "input has dtype float64", "expected float32 on CUDA"});
  }
}

TEST_CASE("conv2d: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // Odd sizes, batch >= 2. Tolerance 1e-4: float32 sums of up to a few hundred products, accumulated in a
  // different order by cuDNN than by OpenBLAS (strict FP32 on the GPU: no TF32, no FFT/Winograd). Each
  // element's difference is scaled by the magnitude of its terms (tests/parity.h): where the terms cancel,
  // a few ulps of them exceed 1e-4 of the element itself or of the largest output (first run on an H200).
  ParityOptions opt;
  opt.tolerance = 1e-4;
  opt.measure = ParityMeasure::kTermMagnitude;
  std::vector<Case> cases = variants();
  cases.push_back({"ResNeXt-like groups 32, C = K = 64, 9x11", {2, 64, 9, 11}, {64, 2, 3, 3}, params(1, 1, 1, 32)});
  cases.push_back({"ResNeXt-like groups 32, stride 2", {3, 64, 9, 11}, {64, 2, 3, 3}, params(2, 1, 1, 32)});
  cases.push_back({"7x7 stride 2 pad 3, batch 2, 3 -> 8", {2, 3, 37, 29}, {8, 3, 7, 7}, params(2, 3)});
  cases.push_back({"3x3 pad 1, 32 -> 48 channels", {2, 32, 13, 15}, {48, 32, 3, 3}, params(1, 1)});
  uint64_t seed = 300;
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      Shape xs = c.x;
      if (xs[0] < 2) xs[0] = 2;
      std::vector<Tensor> in{random_tensor(xs, seed), random_tensor(c.w, seed + 1)};
      if (c.bias) in.push_back(random_tensor({c.w[0]}, seed + 2));
      Conv2dParams p = c.p;
      auto fn = [p](const std::vector<Tensor>& t) { return run_conv(t, p); };
      check_cuda_parity(fn, in, c.name, opt);
      // The first layer's case: no gradient for the input (the backward pass gets grad_x = nullptr).
      ParityOptions no_dx = opt;
      no_dx.requires_grad = std::vector<bool>(in.size(), true);
      no_dx.requires_grad[0] = false;
      check_cuda_parity(fn, in, std::string(c.name) + ", no grad_x", no_dx);
      if (c.bias) {
        // Frozen weights: only the bias gradient (no cuDNN backward pass at all).
        ParityOptions bias_only = opt;
        bias_only.requires_grad = {false, false, true};
        check_cuda_parity(fn, in, std::string(c.name) + ", bias gradient only", bias_only);
      }
    }
    seed += 10;
  }
}

TEST_CASE("conv2d: in bf16, a backward pass after the policy changed still follows the forward's") {
  const Conv2dParams p{.pad_h = 1, .pad_w = 1};
  const Tensor x = random_tensor({2, 4, 7, 6}, 85, DType::kFloat32);
  const Tensor w = random_tensor({5, 4, 3, 3}, 86, DType::kFloat32);
  const Tensor b = random_tensor({5}, 87, DType::kFloat32);
  ConvRun inside;
  {
    const PrecisionScope scope(Precision::kBFloat16);
    inside = conv_with_gradients(x, w, b, p, 88, false);
  }
  Tensor xl = x.clone().set_requires_grad(true), wl = w.clone().set_requires_grad(true);
  Tensor bl = b.clone().set_requires_grad(true);
  Tensor y;
  {
    const PrecisionScope scope(Precision::kBFloat16);
    y = conv2d(xl, wl, bl, p);
  }
  const Tensor c = round_bf16(random_tensor(y.shape(), 88, DType::kFloat32));
  sum(mul(y, c)).backward();  // under the float32 policy
  CHECK(precision() == Precision::kFloat32);
  CHECK(xl.grad().to_vector() == inside.grad_x);
  CHECK(wl.grad().to_vector() == inside.grad_w);
  CHECK(bl.grad().to_vector() == inside.grad_b);
}

namespace {

// The compute capability's major number of GPU 0, from describe_device's "(sm_90, ...": 9.
int gpu_major_version() {
  const std::string d = cuda::describe_device(0);
  const size_t at = d.find("(sm_");
  return at == std::string::npos ? 0 : std::atoi(d.c_str() + at + 4) / 10;
}

// Both backends round the same inputs to bf16; the CPU accumulates in float32, the GPU's tensor cores in
// float32 in another order (and may truncate the alignment of their partial sums), so the float32 results
// differ by a few of their ulps, plus the accumulation error, which rounding to bf16 turns into 0 or 1 bf16
// step (2^-8 relative) near a rounding boundary. Bound: one bf16 step of the element (2^-7 for margin) plus
// 2^-12 of the tensor's largest value (for the elements where the terms cancel).
void check_within_bf16_step(const ConvRun& cpu, const ConvRun& gpu) {
  for (const auto& [c, g, what] : {std::tuple{&cpu.y, &gpu.y, "y"}, std::tuple{&cpu.grad_x, &gpu.grad_x, "grad_x"},
                                   std::tuple{&cpu.grad_w, &gpu.grad_w, "grad_w"},
                                   std::tuple{&cpu.grad_b, &gpu.grad_b, "grad_b"}}) {
    CAPTURE(what);
    REQUIRE(c->size() == g->size());
    double scale = 0;
    for (double v : *c) scale = std::max(scale, std::fabs(v));
    int outside = 0;
    for (size_t i = 0; i < c->size(); ++i)
      outside += !(std::fabs((*c)[i] - (*g)[i]) <= std::fabs((*c)[i]) * 0x1p-7 + scale * 0x1p-12);
    CHECK(outside == 0);
  }
}

// The CUDA kernels round for the bf16 policy themselves (engine/ops/conv2d.h): every output and gradient
// they give is a bfloat16 value.
void check_bf16_exact(const ConvRun& r) {
  for (const auto& [v, what] : {std::pair{&r.y, "y"}, std::pair{&r.grad_x, "grad_x"}, std::pair{&r.grad_w, "grad_w"},
                                std::pair{&r.grad_b, "grad_b"}}) {
    CAPTURE(what);
    int inexact = 0;
    for (double d : *v) inexact += round_to_bf16(static_cast<float>(d)) != static_cast<float>(d);
    CHECK(inexact == 0);
  }
}

}  // namespace

TEST_CASE("conv2d: in bf16, CUDA runs bfloat16 tensor-core passes within one bfloat16 step of the CPU" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const PrecisionScope scope(Precision::kBFloat16);
  struct Case {
    const char* name;
    Shape x, w;
    Conv2dParams p;
  };
  const Case cases[] = {
      {"3x3 pad 1", {2, 16, 13, 15}, {24, 16, 3, 3}, {.pad_h = 1, .pad_w = 1}},
      {"1x1 stride 2", {2, 32, 14, 10}, {16, 32, 1, 1}, {.stride_h = 2, .stride_w = 2}},
      {"3x3 groups 4", {2, 32, 9, 9}, {32, 8, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 4}},
      {"7x7 stride 2 pad 3", {1, 3, 31, 29}, {16, 3, 7, 7}, {.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3}},
      // Channels and planes over one 32 x 32 transpose tile and not a multiple of it (the copies to
      // channels last and back, cuda/conv2d.cu), three images.
      {"3x3 pad 1, 40 -> 72 channels, 33x35", {3, 40, 33, 35}, {72, 40, 3, 3}, {.pad_h = 1, .pad_w = 1}},
  };
  uint64_t seed = 91;
  for (const Case& k : cases) {
    CAPTURE(k.name);
    const Tensor x = random_tensor(k.x, seed++, DType::kFloat32);
    const Tensor w = random_tensor(k.w, seed++, DType::kFloat32);
    const Tensor b = random_tensor({k.w[0]}, seed++, DType::kFloat32);
    const ConvRun cpu = conv_with_gradients(x, w, b, k.p, seed, false);
    const EngineCounters before = engine_counters();
    const Device gpu = Device::cuda();
    const ConvRun on_gpu = conv_with_gradients(x.to(gpu), w.to(gpu), b.to(gpu), k.p, seed++, false);
    const EngineCounters d = counters_between(before, engine_counters());
    check_within_bf16_step(cpu, on_gpu);
    check_bf16_exact(on_gpu);
    // Forward, input gradient and weight gradient on bfloat16 data, where the GPU has bf16 tensor cores
    // (compute capability 8 and later); before that cuDNN has no bfloat16 convolutions.
    if (gpu_major_version() >= 8) CHECK(d.bf16_library_calls == 3);
    CHECK(d.library_calls == 3);
  }
}

TEST_CASE("conv2d: a 1x1 convolution to one channel runs direct kernels on CUDA, close to the CPU in both policies" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // The UNets' final layer (32 channels in AlbuNet, more in the others), odd planes, one and three images;
  // with and without bias; in float32 (parity within float32 sums' rounding) and under bf16 (within a
  // bfloat16 step, outputs bfloat16 values); no cuDNN call either way.
  const Shape shapes[] = {{3, 32, 13, 17}, {1, 48, 9, 7}};
  uint64_t seed = 700;
  for (const Shape& xs : shapes) {
    CAPTURE(xs.str());
    const Tensor x = random_tensor(xs, seed++, DType::kFloat32);
    const Tensor w = random_tensor({1, xs[1], 1, 1}, seed++, DType::kFloat32);
    const Tensor b = random_tensor({1}, seed++, DType::kFloat32);
    ParityOptions opt;
    opt.tolerance = 1e-5;  // a double sum rounded once against the CPU's float32 sums
    opt.measure = ParityMeasure::kTermMagnitude;
    for (bool with_bias : {true, false}) {
      std::vector<Tensor> in{x, w};
      if (with_bias) in.push_back(b);
      const EngineCounters before = engine_counters();
      check_cuda_parity([](const std::vector<Tensor>& t) { return run_conv(t, {}); }, in,
                        with_bias ? "1x1 -> 1, bias" : "1x1 -> 1, no bias", opt);
      CHECK(counters_between(before, engine_counters()).library_calls == 0);
    }
    const PrecisionScope scope(Precision::kBFloat16);
    const ConvRun cpu = conv_with_gradients(x, w, b, {}, seed, false);
    const EngineCounters before = engine_counters();
    const Device gpu = Device::cuda();
    const ConvRun on_gpu = conv_with_gradients(x.to(gpu), w.to(gpu), b.to(gpu), {}, seed++, false);
    CHECK(counters_between(before, engine_counters()).library_calls == 0);
    check_within_bf16_step(cpu, on_gpu);
    check_bf16_exact(on_gpu);
  }
}

TEST_CASE("conv2d: CUDA with TF32 allowed stays close to the CPU" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // The other algorithm-selection path (TF32 math), forward and backward. TF32 keeps 10 mantissa bits, so
  // each product is off by up to ~1e-3 relative: errors are judged against the largest value of each
  // tensor (bound 5e-3; the expected worst case for these ~400-term sums is ~5e-4).
  struct Restore {
    ~Restore() { cuda::set_math_mode(cuda::MathMode::kStrictFP32); }
  } restore;
  cuda::set_math_mode(cuda::MathMode::kAllowTF32);
  std::vector<Tensor> cpu_in{random_tensor({2, 32, 13, 15}, 401, DType::kFloat32),
                             random_tensor({48, 32, 3, 3}, 402, DType::kFloat32),
                             random_tensor({48}, 403, DType::kFloat32)};
  Tensor gw = random_tensor({2, 48, 13, 15}, 404, DType::kFloat32, 0.5, 1.5);
  std::vector<Tensor> gpu_in;
  for (Tensor& t : cpu_in) {
    gpu_in.push_back(t.to(Device::cuda()).set_requires_grad(true));
    t.set_requires_grad(true);
  }
  Tensor y_cpu = run_conv(cpu_in, params(1, 1)), y_gpu = run_conv(gpu_in, params(1, 1));
  sum(mul(y_cpu, gw)).backward();
  sum(mul(y_gpu, gw.to(Device::cuda()))).backward();
  auto normalized_error = [](const Tensor& got, const Tensor& ref) -> double {
    std::vector<double> a = got.to_vector(), r = ref.to_vector();
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::isnan(a[i])) return std::numeric_limits<double>::infinity();
      worst = std::max(worst, std::fabs(a[i] - r[i]));
      scale = std::max(scale, std::fabs(r[i]));
    }
    return worst / scale;
  };
  CHECK(normalized_error(y_gpu, y_cpu) <= 5e-3);
  const char* names[] = {"grad_x", "grad_w", "grad_b"};
  for (size_t k = 0; k < cpu_in.size(); ++k) {
    CAPTURE(names[k]);
    REQUIRE(gpu_in[k].grad().defined());
    CHECK(normalized_error(gpu_in[k].grad(), cpu_in[k].grad()) <= 5e-3);
  }
}

TEST_CASE("conv2d: CUDA with measured algorithms stays close to the CPU and times each shape once" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // The measured choice (engine/conv_algorithm_choice.h) runs and times every usable algorithm on the pass's
  // own operands at a shape's first use. Strict FP32 still admits only algorithms that sum the products
  // directly, so the bound of "CPU vs CUDA" holds; the trial runs write the real outputs before the real
  // call, so nothing of theirs may be left. Shapes no other case uses: their choices are made here.
  const ConvAlgorithmChoiceScope measured(ConvAlgorithmChoice::kMeasured);
  ParityOptions opt;
  opt.tolerance = 1e-4;
  opt.measure = ParityMeasure::kTermMagnitude;
  const Conv2dParams p = params(1, 1);
  const std::vector<Tensor> in{random_tensor({3, 24, 17, 19}, 611), random_tensor({40, 24, 3, 3}, 612),
                               random_tensor({40}, 613)};
  auto fn = [p](const std::vector<Tensor>& t) { return run_conv(t, p); };
  const EngineCounters before = engine_counters();
  check_cuda_parity(fn, in, "measured, first use", opt);
  const EngineCounters first = counters_between(before, engine_counters());
  const EngineCounters middle = engine_counters();
  check_cuda_parity(fn, in, "measured, chosen", opt);
  const EngineCounters again = counters_between(middle, engine_counters());
  CHECK(first.synchronizations > again.synchronizations);  // the timing waits for the device, once per shape
  CHECK(first.library_calls > again.library_calls);        // the trial runs

  if (gpu_major_version() < 8) return;  // no bfloat16 convolutions before Ampere
  // On bfloat16 copies: the forward's bias enters cuDNN's sum (beta = 1) only after the trials.
  const PrecisionScope bf16(Precision::kBFloat16);
  const Tensor x = random_tensor({2, 24, 11, 13}, 621, DType::kFloat32);
  const Tensor w = random_tensor({40, 24, 3, 3}, 622, DType::kFloat32);
  const Tensor b = random_tensor({40}, 623, DType::kFloat32);
  const ConvRun cpu = conv_with_gradients(x, w, b, p, 624, false);
  const Device gpu = Device::cuda();
  const ConvRun on_gpu = conv_with_gradients(x.to(gpu), w.to(gpu), b.to(gpu), p, 624, false);
  check_within_bf16_step(cpu, on_gpu);
  check_bf16_exact(on_gpu);
}
