// Matrix products declared in blas.h, on OpenBLAS kept single-threaded: we split C into tiles whose
// size depends only on the shapes and run one OpenBLAS call per tile on our own threads. OpenBLAS's own
// threading is not used because its results change with the thread count (0.3.21 splits long
// reductions differently at 1 and 2 threads, and takes other edge paths); a tile computed by one
// single-threaded call is the same whichever thread runs it.
#include "cpu/blas.h"

#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/parallel.h"

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" char* openblas_get_corename(void);

namespace pleura::cpu {

namespace {

// OpenBLAS picks its kernels by CPU model when it is loaded, and on a model newer than itself it falls back
// to its oldest x86-64 set, "Prescott" (SSE3): Debian 12's 0.3.21 does so on Intel family 6 model 207
// (Emerald Rapids), where SGEMM then ran at a third of its speed with the AVX-512 set (62 against 186
// GFLOP/s on 2 cores, bench_conv_layers' baseline). When the user has not named a set (OPENBLAS_CORETYPE)
// and OpenBLAS fell back, its own selection is run again with the set this CPU supports named the way that
// variable names it: SkylakeX for AVX-512 (F, BW, DQ, VL), Haswell for AVX2 with FMA. Both functions are
// exported by OpenBLAS's run-time-dispatch builds (Debian's); they are looked up, so a build without them
// simply keeps its kernels.
const char* better_kernel_set() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return nullptr;
}

void choose_openblas_kernels() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || std::strcmp(openblas_get_corename(), "Prescott") != 0) return;
  const char* better = better_kernel_set();
  auto quit = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
  auto init = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
  if (better == nullptr || quit == nullptr || init == nullptr) return;
  setenv("OPENBLAS_CORETYPE", better, 0);
  quit();
  init();
}

// Once, before the first product: the kernel set above, and OpenBLAS single-threaded (the tiles below run
// on Pleura's pool, engine/parallel.h).
void prepare_openblas() {
  static const bool done = [] {
    choose_openblas_kernels();
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

CBLAS_TRANSPOSE to_cblas(Trans t) { return t == Trans::kYes ? CblasTrans : CblasNoTrans; }

void call(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, to_cblas(ta), to_cblas(tb), static_cast<blasint>(M), static_cast<blasint>(N),
              static_cast<blasint>(K), alpha, A, static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

void call(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, to_cblas(ta), to_cblas(tb), static_cast<blasint>(M), static_cast<blasint>(N),
              static_cast<blasint>(K), alpha, A, static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

// The split of C: an even number of near-equal tiles (so that two threads get equal work; the pool hands
// each thread one contiguous run of tiles), about 32K elements each (at most 32 tiles), as square as the
// shape allows, with boundaries on multiples of 16 (the kernels' register tiles). Fixed-size tiles with a
// remainder left one thread idle for a third of some products (3 tiles on 2 threads); near-equal parts
// made the UNets' convolutions about 10% faster (bench: each conv of albunet and scse_unet at 256x256).
struct Split {
  int64_t parts_m, parts_n;
};

constexpr int64_t kTileElements = 32768;

Split split_of(int64_t M, int64_t N) {
  int64_t count = std::clamp<int64_t>(M * N / kTileElements, 2, 32);
  count -= count % 2;
  for (; count >= 2; count -= 2) {
    Split best{0, 0};
    double best_skew = 0.0;
    for (int64_t pm = 1; pm <= count; ++pm) {
      const int64_t pn = count / pm;
      if (count % pm != 0 || (pm > 1 && M / pm < 16) || (pn > 1 && N / pn < 16)) continue;
      const double skew = std::fabs(std::log(static_cast<double>(M / pm) / static_cast<double>(N / pn)));
      if (best.parts_m == 0 || skew < best_skew) best = {pm, pn}, best_skew = skew;
    }
    if (best.parts_m != 0) return best;
  }
  return {1, 1};
}

// Where part i of `parts` near-equal parts of n starts (n for i = parts).
int64_t part_begin(int64_t n, int64_t parts, int64_t i) {
  if (i >= parts) return n;
  return std::min(n, (n * i / parts + 8) / 16 * 16);
}

// Below this many multiply-adds one call on the calling thread is cheaper than waking the pool.
constexpr int64_t kParallelMacs = int64_t{1} << 18;

template <class T>
void tiled_gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, T beta, T* C, int64_t ldc, const GemmTileDone* tile_done) {
  if (M == 0 || N == 0) return;
  prepare_openblas();
  // The tiling depends on the shapes alone, also when called inside a parallel_for (where the tiles
  // then run one after the other on the calling thread): the same product is always the same calls.
  if (M * N * std::max<int64_t>(K, 1) < kParallelMacs) {
    call(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (tile_done != nullptr) (*tile_done)(0, M, 0, N);
    return;
  }
  const Split sp = split_of(M, N);
  parallel_for(sp.parts_m * sp.parts_n, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = part_begin(M, sp.parts_m, t / sp.parts_n), i1 = part_begin(M, sp.parts_m, t / sp.parts_n + 1);
      const int64_t j0 = part_begin(N, sp.parts_n, t % sp.parts_n), j1 = part_begin(N, sp.parts_n, t % sp.parts_n + 1);
      if (i1 <= i0 || j1 <= j0) continue;
      // Rows i0.. of op(A) and columns j0.. of op(B), in the row-major storage of A and B.
      const T* a = ta == Trans::kNo ? A + i0 * lda : A + i0;
      const T* b = tb == Trans::kNo ? B + j0 : B + j0 * ldb;
      call(ta, tb, i1 - i0, j1 - j0, K, alpha, a, lda, b, ldb, beta, C + i0 * ldc + j0, ldc);
      if (tile_done != nullptr) (*tile_done)(i0, i1, j0, j1);
    }
  });
}

}  // namespace

const char* blas_kernel_set() {
  prepare_openblas();
  return openblas_get_corename();
}

template <>
void gemm<float>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  tiled_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr);
}

template <>
void gemm<double>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                  const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  tiled_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr);
}

template <>
void gemm<float>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const GemmTileDone& tile_done) {
  tiled_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, tile_done ? &tile_done : nullptr);
}

template <>
void gemm<double>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                  const double* B, int64_t ldb, double beta, double* C, int64_t ldc, const GemmTileDone& tile_done) {
  tiled_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, tile_done ? &tile_done : nullptr);
}

}  // namespace pleura::cpu
