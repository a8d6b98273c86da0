// Matrix products for the CPU backend through OpenBLAS (row-major). Templated on float/double.
#pragma once

#include <cstdint>

namespace pleura::cpu {

enum class Trans { kNo, kYes };

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major with leading dimensions.
template <class T>
void gemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace pleura::cpu
