// Matrix products declared in blas.h, on OpenBLAS kept single-threaded: we split C into tiles whose
// size depends only on the shapes and run one OpenBLAS call per tile on our own threads. OpenBLAS's own
// threading is not used because its results change with the thread count (0.3.21 splits long
// reductions differently at 1 and 2 threads, and takes other edge paths); a tile computed by one
// single-threaded call is the same whichever thread runs it.
#include "cpu/blas.h"

#include <cblas.h>

#include <algorithm>

#include "cpu/parallel.h"

namespace pleura::cpu {

namespace {

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

// Tile sides: wide enough for OpenBLAS's packed kernels to run near peak, small enough to give every
// thread several tiles on the matrices of a UNet layer.
int64_t tile_cols(int64_t n) { return n >= 512 ? 256 : (n >= 128 ? 64 : n); }
int64_t tile_rows(int64_t m) { return m >= 256 ? 128 : (m >= 128 ? 64 : m); }

// Below this many multiply-adds one call on the calling thread is cheaper than waking the pool.
constexpr int64_t kParallelMacs = int64_t{1} << 18;

template <class T>
void tiled_gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  // The tiling depends on the shapes alone, also when called inside a parallel_for (where the tiles
  // then run one after the other on the calling thread): the same product is always the same calls.
  if (M * N * std::max<int64_t>(K, 1) < kParallelMacs) {
    call(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  int64_t tm = tile_rows(M), tn = tile_cols(N);
  int64_t tiles_m = (M + tm - 1) / tm, tiles_n = (N + tn - 1) / tn;
  parallel_for(tiles_m * tiles_n, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t i0 = (t / tiles_n) * tm, j0 = (t % tiles_n) * tn;
      int64_t mi = std::min(tm, M - i0), nj = std::min(tn, N - j0);
      // Rows i0.. of op(A) and columns j0.. of op(B), in the row-major storage of A and B.
      const T* a = ta == Trans::kNo ? A + i0 * lda : A + i0;
      const T* b = tb == Trans::kNo ? B + j0 : B + j0 * ldb;
      call(ta, tb, mi, nj, K, alpha, a, lda, b, ldb, beta, C + i0 * ldc + j0, ldc);
    }
  });
}

}  // namespace

template <>
void gemm<float>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  tiled_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <>
void gemm<double>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                  const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  tiled_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace pleura::cpu
