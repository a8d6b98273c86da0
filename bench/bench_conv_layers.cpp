// Per-layer CPU convolution timing: every line of stdin is one convolution,
//   N C H W K R stride pad dilation groups bias [pytorch_fwd_s pytorch_fwd_bwd_s]
// (bench/reference/pytorch_unet_bench.py --conv-layers MODEL writes these lines for the solution's models,
// with PyTorch's own times). For each: Pleura's forward (no grad) and forward+backward (grad of x, w and
// bias), fastest of 7 after a warm-up, as GFLOP/s and as a share of the same-process baseline (OpenBLAS
// SGEMM 1024^3 with its own threads on all cores), and the ratio to PyTorch when its times are given.
// Usage: bench_conv_layers < layers.txt
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <cblas.h>

#include "engine/parallel.h"
#include "engine/autograd.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"

using namespace pleura;

extern "C" void openblas_set_num_threads(int num_threads);

namespace {

using Clock = std::chrono::steady_clock;

template <class F>
double fastest(F&& f, int runs = 7) {
  f();
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    const Clock::time_point t = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t).count());
  }
  return best;
}

double sgemm_baseline_gflops() {
  const int n = 1024;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  openblas_set_num_threads(num_threads());
  const double s = fastest([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
  });
  openblas_set_num_threads(1);  // Pleura's own products keep OpenBLAS single-threaded (cpu/blas.cpp)
  return 2.0 * n * n * n / s / 1e9;
}

}  // namespace

int main() {
  const double peak = sgemm_baseline_gflops();
  std::printf("baseline: OpenBLAS SGEMM 1024^3 on %d threads, %.1f GFLOP/s\n", num_threads(), peak);
  std::printf("%-34s %9s %9s %7s %9s %7s %9s %9s\n", "layer (N C HxW -> K kR sS gG)", "fwd ms", "fwd GF/s", "of gemm",
              "f+b ms", "of gemm", "fwd/pt", "f+b/pt");
  Rng rng(1);
  double total_fwd = 0, total_fb = 0, pt_fwd = 0, pt_fb = 0;
  bool have_pt = true;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    int64_t N, C, H, W, K, R, stride, pad, dilation, groups, bias;
    if (!(in >> N >> C >> H >> W >> K >> R >> stride >> pad >> dilation >> groups >> bias)) continue;
    double pf = 0, pfb = 0;
    const bool pt = static_cast<bool>(in >> pf >> pfb);
    have_pt = have_pt && pt;
    Tensor x = rand_uniform({N, C, H, W}, rng, -1, 1).set_requires_grad(true);
    Tensor w = rand_uniform({K, C / groups, R, R}, rng, -1, 1).set_requires_grad(true);
    Tensor b = bias ? rand_uniform({K}, rng, -1, 1).set_requires_grad(true) : Tensor();
    Conv2dParams p;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.dilation_h = p.dilation_w = dilation;
    p.groups = groups;
    const double fwd = fastest([&] {
      NoGradGuard no_grad;
      conv2d(x, w, b, p);
    });
    const double fb = fastest([&] { sum(conv2d(x, w, b, p)).backward(); });
    const int64_t P = conv2d_output_size(H, R, stride, pad, dilation), Q = conv2d_output_size(W, R, stride, pad, dilation);
    const double flops = 2.0 * N * K * P * Q * (C / groups) * R * R;
    char name[64];
    std::snprintf(name, sizeof(name), "%lld %lld %lldx%lld -> %lld k%lld s%lld g%lld", (long long)N, (long long)C,
                  (long long)H, (long long)W, (long long)K, (long long)R, (long long)stride, (long long)groups);
    std::printf("%-34s %9.3f %9.1f %7.2f %9.3f %7.2f", name, fwd * 1e3, flops / fwd / 1e9, flops / fwd / 1e9 / peak,
                fb * 1e3, 3 * flops / fb / 1e9 / peak);
    if (pt) std::printf(" %9.2f %9.2f", fwd / pf, fb / pfb);
    std::printf("\n");
    total_fwd += fwd, total_fb += fb, pt_fwd += pf, pt_fb += pfb;
  }
  std::printf("total: fwd %.3f s, fwd+bwd %.3f s", total_fwd, total_fb);
  if (have_pt && pt_fwd > 0) std::printf("; PyTorch %.3f s, %.3f s: %.2fx, %.2fx", pt_fwd, pt_fb, total_fwd / pt_fwd, total_fb / pt_fb);
  std::printf("\n");
}
