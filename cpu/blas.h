// Matrix products for the CPU backend through OpenBLAS (row-major). Templated on float/double.
// Parallel over tiles of C on our thread pool, with bit-identical results for any thread count
// (see blas.cpp). May be called from inside parallel_for (it then runs on the calling thread).
#pragma once

#include <cstdint>

namespace pleura::cpu {

enum class Trans { kNo, kYes };

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major with leading dimensions.
template <class T>
void gemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// OpenBLAS's kernel set in use ("SkylakeX", "Haswell", ...), after the choice blas.cpp makes before the
// first product (where OpenBLAS fell back to its SSE3 set on a CPU it does not know); for logs and benches.
const char* blas_kernel_set();

}  // namespace pleura::cpu
