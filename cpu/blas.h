// Matrix products for the CPU backend through OpenBLAS (row-major). Templated on float/double.
// Parallel over tiles of C on our thread pool, with bit-identical results for any thread count
// (see blas.cpp). May be called from inside parallel_for (it then runs on the calling thread).
#pragma once

#include <cstdint>
#include <functional>

namespace pleura::cpu {

enum class Trans { kNo, kYes };

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major with leading dimensions.
template <class T>
void gemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The same product, calling tile_done(i0, i1, j0, j1) on the thread that computed it as soon as each tile of C
// (rows [i0, i1), columns [j0, j1)) is written, while it is still in that core's cache: for epilogues such as a
// convolution's bias and ReLU. Every element of C lies in exactly one tile. An empty tile_done: the plain product.
using GemmTileDone = std::function<void(int64_t i0, int64_t i1, int64_t j0, int64_t j1)>;
template <class T>
void gemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const GemmTileDone& tile_done);

// OpenBLAS's kernel set in use ("SkylakeX", "Haswell", ...), after the choice blas.cpp makes before the
// first product (where OpenBLAS fell back to its SSE3 set on a CPU it does not know); for logs and benches.
const char* blas_kernel_set();

}  // namespace pleura::cpu
