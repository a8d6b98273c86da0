// cpu::gemm (cpu/blas.cpp): the tiled OpenBLAS products against a plain triple loop, on shapes that take
// every path of the split (one call below the parallel threshold; rows and columns split; rows only,
// columns only; sizes that are not multiples of 16), all four transpose combinations, alpha and beta,
// leading dimensions wider than the matrices; bit-identical results at 1, 2 and 3 threads; and the
// OpenBLAS kernel set chosen where OpenBLAS does not know the CPU.
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "cpu/blas.h"
#include "engine/parallel.h"
#include "engine/random.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::cpu;

namespace {

struct Case {
  int64_t M, N, K;
};

// Naive C = alpha * op(A) op(B) + beta * C in long double.
template <class T>
std::vector<long double> naive(Trans ta, Trans tb, const Case& c, T alpha, const std::vector<T>& A, int64_t lda,
                               const std::vector<T>& B, int64_t ldb, T beta, const std::vector<T>& C, int64_t ldc) {
  std::vector<long double> out(C.begin(), C.end());
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      long double acc = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const T a = ta == Trans::kNo ? A[i * lda + k] : A[k * lda + i];
        const T b = tb == Trans::kNo ? B[k * ldb + j] : B[j * ldb + k];
        acc += static_cast<long double>(a) * b;
      }
      out[i * ldc + j] = alpha * acc + static_cast<long double>(beta) * C[i * ldc + j];
    }
  return out;
}

template <class T>
std::vector<T> random_values(size_t n, Rng& rng) {
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(rng.uniform(-1.0, 1.0));
  return v;
}

// Runs one product with padded leading dimensions; returns C (padding included).
template <class T>
std::vector<T> run(Trans ta, Trans tb, const Case& c, T alpha, T beta, const std::vector<T>& A, int64_t lda,
                   const std::vector<T>& B, int64_t ldb, std::vector<T> C, int64_t ldc) {
  gemm<T>(ta, tb, c.M, c.N, c.K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  return C;
}

template <class T>
void check_against_naive(double tolerance) {
  const std::vector<Case> cases = {
      {5, 7, 3},        // one call on the calling thread
      {384, 256, 40},   // rows and columns split into near-equal parts
      {8, 4096, 16},    // too few rows to split: columns only
      {4096, 9, 16},    // rows only
      {97, 203, 33},    // not multiples of 16
      {33, 40, 300},    // small C, long K
  };
  Rng rng(20261128);
  for (const Case& c : cases) {
    for (Trans ta : {Trans::kNo, Trans::kYes})
      for (Trans tb : {Trans::kNo, Trans::kYes}) {
        CAPTURE(c.M);
        CAPTURE(c.N);
        CAPTURE(c.K);
        CAPTURE(ta == Trans::kYes);
        CAPTURE(tb == Trans::kYes);
        // Leading dimensions 3 wider than the stored rows, to catch an offset that assumes packing.
        const int64_t lda = (ta == Trans::kNo ? c.K : c.M) + 3, ldb = (tb == Trans::kNo ? c.N : c.K) + 3;
        const int64_t ldc = c.N + 3;
        const std::vector<T> A = random_values<T>(static_cast<size_t>((ta == Trans::kNo ? c.M : c.K) * lda), rng);
        const std::vector<T> B = random_values<T>(static_cast<size_t>((tb == Trans::kNo ? c.K : c.N) * ldb), rng);
        const std::vector<T> C0 = random_values<T>(static_cast<size_t>(c.M * ldc), rng);
        const T alpha = T(0.75), beta = T(-0.5);
        const std::vector<T> got = run(ta, tb, c, alpha, beta, A, lda, B, ldb, C0, ldc);
        const std::vector<long double> want = naive(ta, tb, c, alpha, A, lda, B, ldb, beta, C0, ldc);
        double worst = 0;
        bool padding_kept = true;
        for (int64_t i = 0; i < c.M; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            const size_t k = static_cast<size_t>(i * ldc + j);
            if (j >= c.N) {
              padding_kept = padding_kept && got[k] == C0[k];  // columns past N are not C's
              continue;
            }
            worst = std::max(worst, static_cast<double>(std::fabs(got[k] - want[k]) / (1 + std::fabs(want[k]))));
          }
        CHECK(padding_kept);
        CHECK(worst <= tolerance);
      }
  }
}

}  // namespace

TEST_CASE("gemm: float64 and float32 products equal a plain triple loop on every split path") {
  check_against_naive<double>(1e-13);
  check_against_naive<float>(2e-5);
}

TEST_CASE("gemm: the same bits at 1, 2 and 3 threads") {
  Rng rng(7);
  const Case c{384, 250, 200};
  const std::vector<float> A = random_values<float>(static_cast<size_t>(c.M * c.K), rng);
  const std::vector<float> B = random_values<float>(static_cast<size_t>(c.K * c.N), rng);
  const std::vector<float> C0 = random_values<float>(static_cast<size_t>(c.M * c.N), rng);
  const int previous = num_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    results.push_back(run(Trans::kNo, Trans::kYes, {c.M, c.N, c.K}, 1.0f, 1.0f, A, c.K, B, c.K, C0, c.N));
  }
  set_num_threads(previous);
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
}

TEST_CASE("gemm: OpenBLAS runs the widest kernel set this CPU has, not its SSE3 fallback") {
  // Debian 12's OpenBLAS falls back to "Prescott" (SSE3) on CPU models newer than itself; cpu/blas.cpp then
  // names the set this CPU supports. A user's own OPENBLAS_CORETYPE is left alone. (The products above ran
  // on the chosen set: the first product makes the choice.)
  const std::string kernels = blas_kernel_set();
  MESSAGE("OpenBLAS kernels: ", kernels);
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr && kernels == "Prescott") return;  // chosen by whoever set it
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) CHECK(kernels != "Prescott");
#endif
  CHECK(!kernels.empty());
}
