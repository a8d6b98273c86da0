// Tests of scse_maxout (engine/ops/scse.h; kernels cpu/scse.cpp and cuda/scse.cu): a worked example with
// ties, equality with the composition conv2d -> sigmoid -> mul -> maximum (ties included), float64 gradient
// checks away from ties, thread-count determinism, bad input, CPU-vs-CUDA parity and CUDA determinism.
#include "engine/ops/scse.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/parallel.h"
#include "engine/autograd.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/maximum.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/sigmoid.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

Tensor fused(const std::vector<Tensor>& in) { return scse_maxout(in[0], in[1], in[2]); }

// The SCSE maxout merge written with the engine's ordinary ops (the reference for the fused op).
Tensor composed(const std::vector<Tensor>& in) {
  Tensor spatial_gate = sigmoid(conv2d(in[0], in[2], Tensor()));
  return maximum(mul(in[0], in[1]), mul(in[0], spatial_gate));
}

// x uniform in [-1, 1); relu_like sets the negative half to exact zeros, where both branches are 0 (a tie).
Tensor make_x(const Shape& s, uint64_t seed, bool relu_like, DType dtype = DType::kFloat64) {
  std::vector<double> v = random_tensor(s, seed).to_vector();
  if (relu_like) {
    for (double& e : v) e = std::max(e, 0.0);
  }
  return Tensor::from_vector(v, s, dtype);
}
// A channel gate as the sigmoid of the channel branch gives it: in (0, 1).
Tensor make_gate(int64_t n, int64_t c, uint64_t seed, DType dtype = DType::kFloat64) {
  return random_tensor({n, c, 1, 1}, seed, dtype, 0.05, 0.95);
}
// Weights of scale 3 / sqrt(C), so the logit neither vanishes nor saturates the sigmoid at any C.
Tensor make_weight(int64_t c, uint64_t seed, DType dtype = DType::kFloat64) {
  double a = 3.0 / std::sqrt(static_cast<double>(c));
  return random_tensor({1, c, 1, 1}, seed, dtype, -a, a);
}

// Output and input gradients of sum(fn(inputs) * r); wanted[k] says which inputs get a gradient.
struct Run {
  Tensor out;
  std::vector<Tensor> grads;
};
Run run(const GradFn& fn, const std::vector<Tensor>& inputs, const std::vector<bool>& wanted, const Tensor& r) {
  std::vector<Tensor> in;
  for (size_t k = 0; k < inputs.size(); ++k) {
    in.push_back(inputs[k].clone());
    if (wanted[k]) in.back().set_requires_grad(true);
  }
  Run result;
  result.out = fn(in);
  sum(mul(result.out, r.to(result.out.device()))).backward();
  for (const Tensor& t : in) result.grads.push_back(t.grad());  // undefined where not required
  result.out = result.out.detach();
  return result;
}

// Raw bytes of a tensor, copied to the host (for bitwise comparisons).
std::vector<unsigned char> bytes_of(const Tensor& t) {
  Tensor h = t.to(Device::cpu());
  const unsigned char* p = static_cast<const unsigned char*>(h.raw());
  return {p, p + h.nbytes()};
}

struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

const char* const kNames[] = {"grad_x", "grad_channel_gate", "grad_spatial_weight"};

}  // namespace

TEST_CASE("scse_maxout: worked example with ties, forward and backward") {
  // N = 1, C = 2, H = 1, W = 2. x: channel 0 = [1, 0], channel 1 = [2, -1]; channel gate [0.5, 0.25];
  // spatial weight [2, -1].
  // Logits: s0 = 2*1 - 1*2 = 0, so gate0 = sigmoid(0) = 0.5 exactly; s1 = 2*0 - 1*(-1) = 1, gate1 = sigmoid(1).
  // Branches (channel a = x*cg, spatial b = x*gate):
  //   c0 p0: a = 0.5, b = 0.5 -> tie (x != 0), out 0.5     c0 p1: x = 0: a = b = 0 -> tie, out 0
  //   c1 p0: a = 0.5, b = 1   -> b, out 1                 c1 p1: a = -0.25, b = -sigmoid(1) -> a, out -0.25
  // Backward of sum(out): (ga, gb) = (0.5, 0.5), (0.5, 0.5), (0, 1), (1, 0).
  //   grad_cg[c] = sum_p ga x: c0 = 0.5*1 + 0.5*0 = 0.5; c1 = 0*2 + 1*(-1) = -1.
  //   d/dgate[p] = sum_c gb x: p0 = 0.5*1 + 1*2 = 2.5; p1 = 0.5*0 + 0*(-1) = 0.
  //   d/ds[p] = that * gate (1 - gate): p0 = 2.5 * 0.25 = 0.625; p1 = 0.
  //   grad_w[c] = sum_p ds x: c0 = 0.625*1 = 0.625; c1 = 0.625*2 = 1.25.
  //   grad_x = ga cg + gb gate + ds w[c]: c0 p0 = 0.25 + 0.25 + 1.25 = 1.75; c0 p1 = 0.25 + 0.5 sigmoid(1);
  //            c1 p0 = 0 + 0.5 - 0.625 = -0.125; c1 p1 = 0.25.
  const double sig1 = 1.0 / (1.0 + std::exp(-1.0));
  for (DType dt : {DType::kFloat64, DType::kFloat32}) {
    CAPTURE(dtype_name(dt));
    double tol = dt == DType::kFloat64 ? 1e-15 : 1e-7;  // sigmoid(1) is the only inexact value
    Tensor x = Tensor::from_vector({1, 0, 2, -1}, {1, 2, 1, 2}, dt);
    Tensor cg = Tensor::from_vector({0.5, 0.25}, {1, 2, 1, 1}, dt);
    Tensor w = Tensor::from_vector({2, -1}, {1, 2, 1, 1}, dt);
    x.set_requires_grad(true);
    cg.set_requires_grad(true);
    w.set_requires_grad(true);
    Tensor out = scse_maxout(x, cg, w);
    expect_close(out, Tensor::from_vector({0.5, 0, 1, -0.25}, {1, 2, 1, 2}, dt), 0, tol, "out");
    sum(out).backward();
    expect_close(cg.grad(), Tensor::from_vector({0.5, -1}, {1, 2, 1, 1}, dt), 0, tol, "grad_channel_gate");
    expect_close(w.grad(), Tensor::from_vector({0.625, 1.25}, {1, 2, 1, 1}, dt), 0, tol, "grad_spatial_weight");
    expect_close(x.grad(), Tensor::from_vector({1.75, 0.25 + 0.5 * sig1, -0.125, 0.25}, {1, 2, 1, 2}, dt), 0, tol,
                 "grad_x");
  }
}

TEST_CASE("scse_maxout: equals conv2d + sigmoid + mul + maximum, ties included (float64)") {
  // Same real function, different operation order (GEMM conv, separate sigmoid, autograd's sums of the
  // three grad_x contributions): float64 roundings only, far below 1e-12 of values of order 1.
  struct Case {
    const char* name;
    Shape x;
    bool relu_like;
  };
  const Case cases[] = {
      {"ReLU-like x (half zeros), 2x5x3x4", {2, 5, 3, 4}, true},
      {"ReLU-like x, C = 16, odd 7x9, batch 3", {3, 16, 7, 9}, true},
      {"ReLU-like x, two CPU chunks (323 pixels), C = 9", {2, 9, 17, 19}, true},
      {"signed x, C = 1", {2, 1, 5, 6}, false},
      {"signed x, C = 24", {2, 24, 6, 5}, false},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      int64_t N = c.x[0], C = c.x[1];
      std::vector<Tensor> in{make_x(c.x, seed, c.relu_like), make_gate(N, C, seed + 1), make_weight(C, seed + 2)};
      if (c.relu_like) {
        // The tie rule must be exercised: about half of x is exactly 0.
        std::vector<double> xv = in[0].to_vector();
        REQUIRE(std::count(xv.begin(), xv.end(), 0.0) > static_cast<long>(xv.size() / 4));
      }
      Tensor r = random_tensor(c.x, seed + 3, DType::kFloat64, 0.5, 1.5);
      const std::vector<std::vector<bool>> subsets = {
          {true, true, true}, {true, false, false}, {false, true, false}, {false, false, true}, {false, true, true}};
      for (const std::vector<bool>& req : subsets) {
        CAPTURE(req[0]);
        CAPTURE(req[1]);
        CAPTURE(req[2]);
        Run got = run(fused, in, req, r), want = run(composed, in, req, r);
        expect_close(got.out, want.out, 1e-12, 1e-12, "out");
        for (size_t k = 0; k < 3; ++k) {
          if (!req[k]) {
            CHECK_MESSAGE(!got.grads[k].defined(), kNames[k], " was computed but not needed");
            continue;
          }
          REQUIRE(got.grads[k].defined());
          expect_close(got.grads[k], want.grads[k], 1e-12, 1e-12, kNames[k]);
        }
      }
    }
    seed += 10;
  }
  SUBCASE("ties with x != 0: spatial weight 0 gives gate 0.5, and half the channel gates are 0.5") {
    // Every element of channels 0, 2, 4 has a == b == 0.5 x exactly (signed, non-zero x), so the tie's
    // half-and-half split reaches grad_x, grad_channel_gate and the spatial gate's gradient.
    Shape s{2, 6, 4, 5};
    std::vector<double> gv = make_gate(2, 6, 131).to_vector();
    for (size_t i = 0; i < gv.size(); i += 2) gv[i] = 0.5;
    std::vector<Tensor> in{make_x(s, 130, false), Tensor::from_vector(gv, {2, 6, 1, 1}, DType::kFloat64),
                           Tensor::zeros({1, 6, 1, 1}, DType::kFloat64)};
    Tensor r = random_tensor(s, 132, DType::kFloat64, 0.5, 1.5);
    Run got = run(fused, in, {true, true, true}, r), want = run(composed, in, {true, true, true}, r);
    expect_close(got.out, want.out, 1e-12, 1e-12, "out");
    for (size_t k = 0; k < 3; ++k) expect_close(got.grads[k], want.grads[k], 1e-12, 1e-12, kNames[k]);
  }
}

TEST_CASE("scse_maxout: float64 gradient check away from ties") {
  // |x| in [0.2, 1] with random signs, and every channel gate at least 0.01 from every spatial gate of its
  // sample, so |x cg - x gate| >= 2e-3 everywhere: no central difference crosses a kink of the maximum.
  // eps 1e-5 instead of 1e-6: the truncation error (~eps^2) stays negligible, and the rounding error of the
  // loss (~1e-15 / eps) stays far below 1e-6 of the gradients' floor.
  const int64_t N = 2, C = 4, H = 3, W = 5, HW = H * W;
  Rng rng(140);
  std::vector<double> xv(static_cast<size_t>(N * C * HW));
  for (double& e : xv) e = rng.uniform(0.2, 1.0) * (rng.uniform() < 0.5 ? -1.0 : 1.0);
  std::vector<double> wv = make_weight(C, 141).to_vector();
  std::vector<double> gate(static_cast<size_t>(N * HW));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t p = 0; p < HW; ++p) {
      double s = 0.0;
      for (int64_t c = 0; c < C; ++c) s += wv[static_cast<size_t>(c)] * xv[static_cast<size_t>((n * C + c) * HW + p)];
      gate[static_cast<size_t>(n * HW + p)] = 1.0 / (1.0 + std::exp(-s));
    }
  }
  auto gap = [&](int64_t n, double g) {
    double d = 1.0;
    for (int64_t p = 0; p < HW; ++p) d = std::min(d, std::fabs(g - gate[static_cast<size_t>(n * HW + p)]));
    return d;
  };
  std::vector<double> cgv(static_cast<size_t>(N * C));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      double g = rng.uniform(0.02, 0.98);
      for (int tries = 0; gap(n, g) < 0.01 && tries < 1000; ++tries) g = rng.uniform(0.02, 0.98);
      REQUIRE(gap(n, g) >= 0.01);
      cgv[static_cast<size_t>(n * C + c)] = g;
    }
  }
  std::vector<Tensor> in{Tensor::from_vector(xv, {N, C, H, W}, DType::kFloat64),
                         Tensor::from_vector(cgv, {N, C, 1, 1}, DType::kFloat64),
                         Tensor::from_vector(wv, {1, C, 1, 1}, DType::kFloat64)};
  GradCheckOptions opt;
  opt.eps = 1e-5;
  check_gradients(fused, in, opt);
}

TEST_CASE("scse_maxout: same bits for any thread count") {
  ThreadCountGuard restore;
  // float32, 1155 pixels = 5 CPU chunks, so the per-chunk partial sums of both weight gradients are combined.
  Shape s{3, 20, 33, 35};
  std::vector<Tensor> in{make_x(s, 150, true, DType::kFloat32), make_gate(3, 20, 151, DType::kFloat32),
                         make_weight(20, 152, DType::kFloat32)};
  Tensor r = random_tensor(s, 153, DType::kFloat32, 0.5, 1.5);
  auto all = [&](int threads) {
    set_num_threads(threads);
    Run got = run(fused, in, {true, true, true}, r);
    return std::vector<Tensor>{got.out, got.grads[0], got.grads[1], got.grads[2]};
  };
  std::vector<Tensor> one = all(1);
  for (int threads : {2, 3}) {
    std::vector<Tensor> many = all(threads);
    for (size_t i = 0; i < one.size(); ++i) {
      CAPTURE(threads);
      CAPTURE(i);  // 0: out, then grad_x, grad_channel_gate, grad_spatial_weight
      CHECK(bytes_of(one[i]) == bytes_of(many[i]));
    }
  }
}

TEST_CASE("scse_maxout: bad input") {
  Tensor x = Tensor::zeros({2, 3, 4, 4}), cg = Tensor::zeros({2, 3, 1, 1}), w = Tensor::zeros({1, 3, 1, 1});
  expect_error([&] { scse_maxout(Tensor::zeros({3, 4, 4}), cg, w); }, {"[scse_maxout]", "x has 3 dims, expected 4"});
  expect_error([&] { scse_maxout(x, Tensor::zeros({1, 3, 1, 1}), w); },
               {"[scse_maxout]", "channel_gate has shape [1, 3, 1, 1]", "expected [2, 3, 1, 1]",
                "float32[2, 3, 4, 4]"});
  expect_error([&] { scse_maxout(x, Tensor::zeros({2, 3}), w); },
               {"[scse_maxout]", "channel_gate has shape [2, 3]", "expected [2, 3, 1, 1]"});
  expect_error([&] { scse_maxout(x, cg, Tensor::zeros({1, 4, 1, 1})); },
               {"[scse_maxout]", "spatial_weight has shape [1, 4, 1, 1]", "expected [1, 3, 1, 1]"});
  expect_error([&] { scse_maxout(x, cg, Tensor::zeros({3})); },
               {"[scse_maxout]", "spatial_weight has shape [3]", "expected [1, 3, 1, 1]"});
  expect_error([&] { scse_maxout(x, cg.to(DType::kFloat64), w); },
               {"[scse_maxout]", "channel_gate has dtype float64", "x has dtype float32"});
  expect_error([&] { scse_maxout(x, cg, w.to(DType::kFloat64)); },
               {"[scse_maxout]", "spatial_weight has dtype float64", "x has dtype float32"});
  expect_error([&] { scse_maxout(Tensor::zeros({2, 3, 4, 4}, DType::kUInt8), cg, w); }, {"[scse_maxout]", "uint8"});
  expect_error([&] { scse_maxout(x, cg, Tensor()); }, {"[scse_maxout]", "spatial_weight is an undefined tensor"});
  expect_error([&] { scse_maxout(Tensor::zeros({2, 3, 0, 4}), cg, w); }, {"[scse_maxout]", "x is empty"});
  if (cuda::device_count() > 0) {
    expect_error([&] { scse_maxout(x, cg, w.to(Device::cuda())); }, {"[scse_maxout]", "spatial_weight is on cuda"});
    expect_error([&] { scse_maxout(x.to(Device::cuda()), cg, w.to(Device::cuda())); },
                 {"[scse_maxout]", "channel_gate is on cpu"});
    expect_error(
        [&] {
          scse_maxout(x.to(DType::kFloat64).to(Device::cuda()), cg.to(DType::kFloat64).to(Device::cuda()),
                      w.to(DType::kFloat64).to(Device::cuda()));
        },
        {"[scse_maxout]", "x has dtype float64", "expected float32 on CUDA"});
  }
}

TEST_CASE("scse_maxout: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // Measure: kElementwise (|cuda - cpu| / (|cpu| + 1e-3 max |cpu|)) at 1e-5. The spatial logit is a C-term
  // dot product, but both backends add the same exact (float x float in double) products in the same slice
  // order, so the logit, the gate and the gate's gradient agree bitwise, and grad_x with them (same float
  // roundings); the pixel sums of the two weight gradients are in double on both sides and differ by about
  // 1e-16 of their terms before the final rounding to float. So the errors are of one float ulp (6e-8)
  // whatever the cancellation, and need no scaling by the terms' magnitude. kTermMagnitude would also be
  // wrong here: its reference run on |inputs| takes other branches of the maximum (a != b changes sign), so
  // its "magnitudes" do not bound this run's terms and can be 0 where the gradient is not.
  struct Case {
    const char* name;
    Shape x;
    bool relu_like;
  };
  const Case cases[] = {
      {"C = 64, odd 17x23, ReLU-like x", {2, 64, 17, 23}, true},
      {"C = 384, odd 9x13, batch 3, ReLU-like x", {3, 384, 9, 13}, true},
      {"C = 5 (fewer channels than warps), signed x", {2, 5, 7, 9}, false},
      {"C = 16, 257x131: 2 rows per backward block, last block partial", {2, 16, 257, 131}, true},
      {"C = 8, 363x365: 8 rows per backward block, last block partial", {2, 8, 363, 365}, false},
  };
  uint64_t seed = 200;
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      int64_t N = c.x[0], C = c.x[1];
      std::vector<Tensor> in{make_x(c.x, seed, c.relu_like), make_gate(N, C, seed + 1), make_weight(C, seed + 2)};
      check_cuda_parity(fused, in, c.name);
      const std::vector<std::vector<bool>> subsets = {
          {true, false, false}, {false, true, false}, {false, false, true}, {false, true, true}};
      for (const std::vector<bool>& req : subsets) {
        ParityOptions opt;
        opt.requires_grad = req;
        check_cuda_parity(fused, in,
                          std::string(c.name) + ", gradients of x/cg/w = " + std::to_string(req[0]) +
                              std::to_string(req[1]) + std::to_string(req[2]),
                          opt);
      }
    }
    seed += 10;
  }
}

TEST_CASE("scse_maxout: two CUDA runs give the same bits" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  // 65 x 67 pixels, C = 384 (SCSE-UNet's widest decoder), batch 2: the block partials and the final sums of
  // both weight gradients (no atomics) must add in the same order every time.
  Shape s{2, 384, 65, 67};
  std::vector<Tensor> in{make_x(s, 250, true, DType::kFloat32).to(Device::cuda()),
                         make_gate(2, 384, 251, DType::kFloat32).to(Device::cuda()),
                         make_weight(384, 252, DType::kFloat32).to(Device::cuda())};
  Tensor r = random_tensor(s, 253, DType::kFloat32, 0.5, 1.5);
  Run first = run(fused, in, {true, true, true}, r), second = run(fused, in, {true, true, true}, r);
  CHECK(bytes_of(first.out) == bytes_of(second.out));
  for (size_t k = 0; k < 3; ++k) {
    CAPTURE(kNames[k]);
    CHECK(bytes_of(first.grads[k]) == bytes_of(second.grads[k]));
  }
}
