// CPU conv2d timing (kernels in cpu/conv2d.cpp): forward and forward+backward GFLOP/s against raw OpenBLAS
// SGEMM on the same matrix sizes, run in the same process. Usage: bench_conv_cpu [--json] [--runs N] [--shape I]
//
// FLOPs: forward 2*MACs, MACs = N*K*P*Q*(C/groups)*R*S; backward 2x forward (grad_x and grad_w; the bias
// gradient is not counted). Baselines: "gemm fwd" = N*groups products [K/groups, P*Q] = [K/groups, C/groups*R*S]
// . [C/groups*R*S, P*Q], each one OpenBLAS call; "gemm f+b" adds the two backward shapes (W^T.dY, dY.col^T).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <cblas.h>
#include <nlohmann/json.hpp>

#include "cpu/blas.h"
#include "engine/parallel.h"
#include "engine/ops/conv2d.h"
#include "engine/random.h"

using namespace pleura;

extern "C" void openblas_set_num_threads(int num_threads);

namespace {

// The baseline: plain OpenBLAS SGEMM with its own threading on all of the pool's threads (Pleura itself
// keeps OpenBLAS single-threaded and tiles products over its pool; see cpu/blas.cpp).
void raw_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
               int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.f, A, lda, B,
              ldb, beta, C, ldc);
}

struct RawBlasThreads {
  RawBlasThreads() { openblas_set_num_threads(num_threads()); }
  ~RawBlasThreads() {
    openblas_set_num_threads(1);
    // OpenBLAS's idle workers spin for about 2^28 cycles before sleeping: let them settle.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
};

struct Shape4 {
  const char* name;
  int64_t N, C, H, W, K, R, S, pad, groups;
};

double seconds_of(const std::function<void()>& fn) {
  auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Medians of each function's time over `runs` rounds after one warm-up round.
std::vector<double> median_seconds(int runs, const std::vector<std::function<void()>>& fns) {
  for (const auto& fn : fns) fn();  // warm-up: page faults, OpenBLAS buffers, thread pool
  std::vector<std::vector<double>> t(fns.size());
  for (int i = 0; i < runs; ++i)
    for (size_t f = 0; f < fns.size(); ++f) t[f].push_back(seconds_of(fns[f]));
  std::vector<double> med;
  for (auto& v : t) {
    std::sort(v.begin(), v.end());
    med.push_back(v[v.size() / 2]);
  }
  return med;
}

struct Result {
  std::string name;
  double fwd_gflops, fwdbwd_gflops, gemm_fwd_gflops, gemm_fwdbwd_gflops;
};

Result run(const Shape4& s, int runs) {
  Conv2dParams p;
  p.pad_h = p.pad_w = s.pad;
  p.groups = s.groups;
  Rng rng(1);
  Tensor x = randn({s.N, s.C, s.H, s.W}, rng);
  Tensor w = randn({s.K, s.C / s.groups, s.R, s.S}, rng);
  Tensor b = randn({s.K}, rng);
  int64_t P = conv2d_output_size(s.H, s.R, 1, s.pad, 1), Q = conv2d_output_size(s.W, s.S, 1, s.pad, 1);
  Tensor y = Tensor::empty({s.N, s.K, P, Q});
  Tensor gy = randn({s.N, s.K, P, Q}, rng);
  Tensor gx = Tensor::empty_like(x), gw = Tensor::empty_like(w), gb = Tensor::empty_like(b);

  // The same products as plain OpenBLAS calls on buffers of the conv's sizes.
  int64_t M = s.K / s.groups, Ncol = P * Q, Kdim = s.C / s.groups * s.R * s.S, count = s.N * s.groups;
  std::vector<float> A(static_cast<size_t>(M * Kdim), 0.5f), B(static_cast<size_t>(Kdim * Ncol), 0.25f);
  std::vector<float> C(static_cast<size_t>(M * Ncol)), D(static_cast<size_t>(Kdim * Ncol)),
      E(static_cast<size_t>(M * Kdim));
  // The conv first, then its baseline: once OpenBLAS has run threaded, its idle workers spin for a while
  // and would take a core from the conv (which runs OpenBLAS single-threaded on Pleura's pool) if the two
  // were interleaved.
  std::vector<double> conv_t = median_seconds(runs, {
                                                        [&] { cpu::conv2d_fwd(x, w, b, p, y); },
                                                        [&] { cpu::conv2d_bwd(x, w, gy, p, &gx, &gw, &gb); },
                                                    });
  std::vector<double> gemm_t;
  {
    RawBlasThreads threads;
    gemm_t = median_seconds(runs, {
                                      [&] {
                                        for (int64_t i = 0; i < count; ++i)
                                          raw_sgemm(false, false, M, Ncol, Kdim, A.data(), Kdim, B.data(), Ncol, 0.f,
                                                    C.data(), Ncol);
                                      },
                                      [&] {
                                        for (int64_t i = 0; i < count; ++i) {
                                          raw_sgemm(true, false, Kdim, Ncol, M, A.data(), Kdim, C.data(), Ncol, 0.f,
                                                    D.data(), Ncol);
                                          raw_sgemm(false, true, M, Kdim, Ncol, C.data(), Ncol, B.data(), Ncol, 1.f,
                                                    E.data(), Kdim);
                                        }
                                      },
                                  });
  }
  std::vector<double> t = {conv_t[0], conv_t[1], gemm_t[0], gemm_t[1]};
  double t_fwd = t[0], t_bwd = t[1], t_gemm_fwd = t[2], t_gemm_bwd = t[3];

  double flops_fwd = 2.0 * static_cast<double>(s.N * s.K * P * Q * Kdim);
  return {s.name, flops_fwd / t_fwd * 1e-9, 3 * flops_fwd / (t_fwd + t_bwd) * 1e-9, flops_fwd / t_gemm_fwd * 1e-9,
          3 * flops_fwd / (t_gemm_fwd + t_gemm_bwd) * 1e-9};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    cpu::blas_kernel_set();  // OpenBLAS's kernel choice (cpu/blas.cpp) before the baseline's first product
    bool json = false;
    int runs = 7, only = -1;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--json") == 0) {
        json = true;
      } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
        runs = std::max(1, std::atoi(argv[++i]));
      } else if (std::strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
        only = std::atoi(argv[++i]);
      } else {
        std::fprintf(stderr, "usage: %s [--json] [--runs N] [--shape I (0, 1 or 2: one shape only)]\n", argv[0]);
        return 2;
      }
    }
    const Shape4 shapes[] = {
        {"64->64 3x3 pad 1 @128x128", 2, 64, 128, 128, 64, 3, 3, 1, 1},
        {"256->256 3x3 pad 1 @32x32", 2, 256, 32, 32, 256, 3, 3, 1, 1},
        {"128->128 g32 3x3 pad 1 @64x64", 2, 128, 64, 64, 128, 3, 3, 1, 32},
    };
    std::vector<Result> results;
    for (int i = 0; i < 3; ++i)
      if (only < 0 || only == i) results.push_back(run(shapes[i], runs));

    if (json) {
      // Rates to 2 decimals, ratios to 3 (timing noise is larger than that).
      auto rounded = [](double v, double scale) { return std::round(v * scale) / scale; };
      nlohmann::ordered_json j;
      j["threads"] = num_threads();
      j["runs"] = runs;
      j["shapes"] = nlohmann::ordered_json::array();
      for (const Result& r : results) {
        nlohmann::ordered_json s;
        s["name"] = r.name;
        s["fwd_gflops"] = rounded(r.fwd_gflops, 100);
        s["fwd_bwd_gflops"] = rounded(r.fwdbwd_gflops, 100);
        s["gemm_fwd_gflops"] = rounded(r.gemm_fwd_gflops, 100);
        s["gemm_fwd_bwd_gflops"] = rounded(r.gemm_fwdbwd_gflops, 100);
        s["ratio_fwd"] = rounded(r.fwd_gflops / r.gemm_fwd_gflops, 1000);
        s["ratio_fwd_bwd"] = rounded(r.fwdbwd_gflops / r.gemm_fwd_gflops, 1000);
        s["ratio_fwd_bwd_vs_gemm_fwd_bwd"] = rounded(r.fwdbwd_gflops / r.gemm_fwdbwd_gflops, 1000);
        j["shapes"].push_back(std::move(s));
      }
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("conv2d CPU, float32, batch 2, %d threads, median of %d runs (GFLOP/s)\n", num_threads(), runs);
      std::printf("%-32s %9s %9s %9s %9s %8s %8s %9s\n", "shape", "conv fwd", "conv f+b", "gemm fwd", "gemm f+b",
                  "fwd/gemm", "f+b/gemm", "f+b/g f+b");
      for (const Result& r : results)
        std::printf("%-32s %9.1f %9.1f %9.1f %9.1f %8.2f %8.2f %9.2f\n", r.name.c_str(), r.fwd_gflops, r.fwdbwd_gflops,
                    r.gemm_fwd_gflops, r.gemm_fwdbwd_gflops, r.fwd_gflops / r.gemm_fwd_gflops,
                    r.fwdbwd_gflops / r.gemm_fwd_gflops, r.fwdbwd_gflops / r.gemm_fwdbwd_gflops);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_conv_cpu: %s\n", e.what());
    return 1;
  }
}
