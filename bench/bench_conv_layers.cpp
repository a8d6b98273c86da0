// Per-layer CPU convolution timing: every line of stdin is one convolution,
//   N C H W K R stride pad dilation groups bias [pytorch_fwd_s pytorch_fwd_bwd_s]
// (bench/reference/pytorch_unet_bench.py --conv-layers MODEL writes these lines for the solution's models,
// with PyTorch's own times). For each: Pleura's forward (no grad) and forward+backward (grad of x, w and
// bias), fastest of 7 after a warm-up, as GFLOP/s and as a share of the same-process baseline (OpenBLAS
// SGEMM 1024^3 with its own threads on all cores), and the ratio to PyTorch when its times are given.
// Each layer is timed under every CPU algorithm of the build, interleaved run by run: im2col (the reference,
// whose times the table shows), Winograd (3x3 stride-1 layers, cpu/conv2d_winograd.h) and oneDNN (float32
// ungrouped layers, cpu/conv2d_onednn.h, when built); "wg/i2c" and "dnn/i2c" are their times over im2col's
// (1.00 where the algorithm does not apply), and the PyTorch ratios are those of the default algorithm.
// With --forward-only (inference shapes, e.g. 1024x1024), only the forward is timed, fastest of --runs
// (default 7), oneDNN's column is its kernel run directly, whatever the rule of onednn_applies() says
// (1.00 where oneDNN has no optimised kernel for the shape), and "wf4/dnn" is the Winograd F(4x4,3x3)
// inference kernels' time over oneDNN's (cpu/conv2d_winograd_f4.h; 1.00 where they do not apply), and on an
// AVX-512 CPU "512/256" the time of those kernels with their AVX-512 product kernel over their AVX2 one.
// Usage: bench_conv_layers [--forward-only] [--runs N] < layers.txt
#include <algorithm>
#include <functional>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <cblas.h>

#include "cpu/blas.h"
#include "cpu/conv2d_onednn.h"
#include "cpu/conv2d_winograd.h"
#include "cpu/conv2d_winograd_f4.h"
#include "cpu/conv_algorithm.h"
#include "engine/parallel.h"
#include "engine/autograd.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"

using namespace pleura;

extern "C" void openblas_set_num_threads(int num_threads);

namespace {

using Clock = std::chrono::steady_clock;

double seconds_of(const std::function<void()>& f) {
  const Clock::time_point t = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t).count();
}

template <class F>
double fastest(F&& f, int runs = 7) {
  f();
  double best = 1e30;
  for (int i = 0; i < runs; ++i) best = std::min(best, seconds_of(f));
  return best;
}

// Fastest of `runs` for f under each algorithm, the algorithms taking turns run by run (after one warm-up
// each). oneDNN is timed only where the build has it (else its entry is im2col's).
struct Times {
  double im2col, winograd, onednn;
  double winograd_f4 = 0;  // forward only: the F(4x4,3x3) inference kernels, 0 where they do not apply
  double winograd_f4_avx2 = 0;  // the same with the AVX2 product kernel, where AVX-512's is the default
  double of(cpu::ConvAlgorithm a) const {
    return a == cpu::ConvAlgorithm::kOneDnn ? onednn : a == cpu::ConvAlgorithm::kWinograd ? winograd : im2col;
  }
};
Times fastest_of_each(const std::function<void()>& f, int runs = 7) {
  Times best{1e30, 1e30, 1e30};
  for (int i = -1; i < runs; ++i) {
    cpu::set_conv_algorithm(cpu::ConvAlgorithm::kWinograd);
    const double wg = seconds_of(f);
    cpu::set_conv_algorithm(cpu::ConvAlgorithm::kIm2col);
    const double i2c = seconds_of(f);
    double dnn = i2c;
    if (cpu::onednn_built()) {
      cpu::set_conv_algorithm(cpu::ConvAlgorithm::kOneDnn);
      dnn = seconds_of(f);
    }
    if (i >= 0) best = {std::min(best.im2col, i2c), std::min(best.winograd, wg), std::min(best.onednn, dnn)};
  }
  cpu::set_conv_algorithm(cpu::default_conv_algorithm());
  return best;
}

// Forward only, oneDNN's kernel run directly (not through conv2d's rule) where it has one for the shape, and
// the Winograd F(4x4,3x3) inference kernels (cpu/conv2d_winograd_f4.h) where the shape fits them, the two
// taking turns run by run.
Times forward_of_each(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, int runs) {
  NoGradGuard no_grad;
  const Times through_conv2d = fastest_of_each([&] { conv2d(x, w, b, p); }, runs);
  Times best = through_conv2d;
  const bool dnn = cpu::onednn_built() && cpu::onednn_can_run(x, w, p);
  set_fast_inference_convolutions(true);
  const bool f4 = cpu::winograd_f4_applies(x, w, p);
  set_fast_inference_convolutions(false);
  Tensor y = conv2d(x, w, b, p);
  if (dnn) best.onednn = 1e30;
  const cpu::WinogradF4Kernel f4_kernel = cpu::winograd_f4_kernel();
  const bool f4_avx2 = f4 && f4_kernel != cpu::WinogradF4Kernel::kAvx2;
  if (f4) best.winograd_f4 = 1e30;
  if (f4_avx2) best.winograd_f4_avx2 = 1e30;
  for (int i = -1; i < runs; ++i) {
    const double t_dnn = dnn ? seconds_of([&] { cpu::conv2d_onednn_fwd(x, w, b, p, y); }) : 0;
    const double t_f4 = f4 ? seconds_of([&] { cpu::conv2d_winograd_f4_fwd(x, w, b, p, y); }) : 0;
    cpu::set_winograd_f4_kernel(cpu::WinogradF4Kernel::kAvx2);
    const double t_f4_avx2 = f4_avx2 ? seconds_of([&] { cpu::conv2d_winograd_f4_fwd(x, w, b, p, y); }) : 0;
    cpu::set_winograd_f4_kernel(f4_kernel);
    if (i < 0) continue;
    if (dnn) best.onednn = std::min(best.onednn, t_dnn);
    if (f4) best.winograd_f4 = std::min(best.winograd_f4, t_f4);
    if (f4_avx2) best.winograd_f4_avx2 = std::min(best.winograd_f4_avx2, t_f4_avx2);
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

int main(int argc, char** argv) {
  bool forward_only = false;
  int runs = 7;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--forward-only") == 0) {
      forward_only = true;
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc && std::atoi(argv[i + 1]) >= 1) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "bench_conv_layers: unknown argument '%s' (expected --forward-only or --runs N >= 1)\n",
                   argv[i]);
      return 2;
    }
  }
  const char* kernels = cpu::blas_kernel_set();  // before any product, the baseline's included
  const double peak = sgemm_baseline_gflops();
  const cpu::ConvAlgorithm chosen = cpu::default_conv_algorithm();
  std::printf("baseline: OpenBLAS SGEMM 1024^3 on %d threads, %.1f GFLOP/s (%s kernels); default algorithm %s\n",
              num_threads(), peak, kernels, cpu::conv_algorithm_name(chosen));
  if (forward_only)
    std::printf("%-34s %9s %9s %7s %7s %7s %7s %7s %9s\n", "layer (N C HxW -> K kR sS gG)", "fwd ms", "fwd GF/s",
                "of gemm", "wg/i2c", "dnn/i2c", "wf4/dnn", "512/256", "fwd/pt");
  else
    std::printf("%-34s %9s %9s %7s %7s %7s %9s %7s %7s %7s %9s %9s\n", "layer (N C HxW -> K kR sS gG)", "fwd ms",
                "fwd GF/s", "of gemm", "wg/i2c", "dnn/i2c", "f+b ms", "of gemm", "wg/i2c", "dnn/i2c", "fwd/pt",
                "f+b/pt");
  Rng rng(1);
  Times total_fwd{0, 0, 0}, total_fb{0, 0, 0};
  double pt_fwd = 0, pt_fb = 0;
  double total_f4 = 0;  // forward only: oneDNN's time, or the F(4x4,3x3) kernels' where they are faster
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
    const Times fwd = forward_only ? forward_of_each(x, w, b, p, runs) : fastest_of_each([&] {
      NoGradGuard no_grad;
      conv2d(x, w, b, p);
    }, runs);
    const Times fb = forward_only ? Times{0, 0, 0} : fastest_of_each([&] { sum(conv2d(x, w, b, p)).backward(); }, runs);
    const int64_t P = conv2d_output_size(H, R, stride, pad, dilation), Q = conv2d_output_size(W, R, stride, pad, dilation);
    const double flops = 2.0 * N * K * P * Q * (C / groups) * R * R;
    char name[64];
    std::snprintf(name, sizeof(name), "%lld %lld %lldx%lld -> %lld k%lld s%lld g%lld", (long long)N, (long long)C,
                  (long long)H, (long long)W, (long long)K, (long long)R, (long long)stride, (long long)groups);
    std::printf("%-34s %9.3f %9.1f %7.2f %7.2f %7.2f", name, fwd.im2col * 1e3, flops / fwd.im2col / 1e9,
                flops / fwd.im2col / 1e9 / peak, fwd.winograd / fwd.im2col, fwd.onednn / fwd.im2col);
    if (forward_only) {
      const double with_f4 = fwd.winograd_f4 > 0 ? std::min(fwd.winograd_f4, fwd.onednn) : fwd.onednn;
      std::printf(" %7.2f", fwd.winograd_f4 > 0 ? fwd.winograd_f4 / fwd.onednn : 1.0);
      std::printf(" %7.2f", fwd.winograd_f4_avx2 > 0 ? fwd.winograd_f4 / fwd.winograd_f4_avx2 : 1.0);
      total_f4 += with_f4;
    }
    if (!forward_only)
      std::printf(" %9.3f %7.2f %7.2f %7.2f", fb.im2col * 1e3, 3 * flops / fb.im2col / 1e9 / peak,
                  fb.winograd / fb.im2col, fb.onednn / fb.im2col);
    if (pt) std::printf(" %9.2f %9.2f", fwd.of(chosen) / pf, forward_only ? 0.0 : fb.of(chosen) / pfb);
    std::printf("\n");
    total_fwd = {total_fwd.im2col + fwd.im2col, total_fwd.winograd + fwd.winograd, total_fwd.onednn + fwd.onednn};
    total_fb = {total_fb.im2col + fb.im2col, total_fb.winograd + fb.winograd, total_fb.onednn + fb.onednn};
    pt_fwd += pf, pt_fb += pfb;
  }
  std::printf("total: fwd %.3f s, fwd+bwd %.3f s (Winograd: %.3f s, %.3f s; oneDNN: %.3f s, %.3f s)", total_fwd.im2col,
              total_fb.im2col, total_fwd.winograd, total_fb.winograd, total_fwd.onednn, total_fb.onednn);
  if (forward_only) std::printf("; oneDNN with F(4x4,3x3) Winograd where faster: %.3f s", total_f4);
  if (have_pt && pt_fwd > 0)
    std::printf("; PyTorch %.3f s, %.3f s: %s %.2fx, %.2fx", pt_fwd, pt_fb, cpu::conv_algorithm_name(chosen),
                total_fwd.of(chosen) / pt_fwd, total_fb.of(chosen) / pt_fb);
  std::printf("\n");
}
