#!/usr/bin/env bash
# The unit tests under the sanitizers, on a CPU build (the CUDA backend is left out: the sanitizers do not
# see device code).
#   scripts/sanitize.sh [asan|tsan|all]      (default: all)
#  - asan: AddressSanitizer + UndefinedBehaviorSanitizer (gcc), build-asan/: every ctest test, the tools'
#    tests and the end-to-end pipeline included; any report fails the test that triggered it.
#  - tsan: ThreadSanitizer (gcc), build-tsan/: the tests of the thread pool, the job runner, the loader, the
#    host allocator, the interrupt flag, a two-epoch train_unet run and a batched inference, which use
#    them all.
# Ends with one summary line per sanitizer; exits 1 when one of them failed.
# Environment: PLEURA_JOBS (build and test jobs, default: the number of cores).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
which=${1:-all}
case "$which" in
  asan | tsan | all) ;;
  *)
    echo "error: expected asan, tsan or all, got '$which'" >&2
    exit 2
    ;;
esac
jobs=${PLEURA_JOBS:-$(nproc)}
"$root/scripts/install-deps.sh"

configure_and_build() {  # folder, compiler flags, targets...
  local build=$1 flags=$2
  shift 2
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPLEURA_CUDA=OFF \
    -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
  cmake --build "$build" -j "$jobs" --target "$@"
}

summary=()
failed=0

if [ "$which" = asan ] || [ "$which" = all ]; then
  build=$root/build-asan
  configure_and_build "$build" "-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
  # allocator_may_return_null: a test asks for 211 TB on purpose and expects the null that malloc gives.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:allocator_may_return_null=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  set +e
  (cd "$build" && ctest --output-on-failure --timeout 1800 -j "$jobs" -LE mpi) 2>&1 | tee "$build/ctest.log"
  status=${PIPESTATUS[0]}
  # The MPI ranks without LeakSanitizer: Open MPI 4.1 leaves its own allocations at finalize (libmpi,
  # libopen-pal, hwloc, components it has unloaded, which no suppression can name); every other check
  # stays on, and the same training code is leak-checked by the single-process tests above.
  (cd "$build" && ASAN_OPTIONS=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0} \
    ctest --output-on-failure --timeout 1800 -j "$jobs" -L mpi) 2>&1 | tee "$build/ctest-mpi.log"
  [ "${PIPESTATUS[0]}" -ne 0 ] && status=1
  set -e
  summary+=("asan+ubsan: $(grep -E 'tests passed|tests failed' "$build/ctest.log" | tail -n 1)")
  summary+=("asan+ubsan, MPI ranks (no leak check): $(grep -E 'tests passed|tests failed' "$build/ctest-mpi.log" | tail -n 1)")
  [ "$status" -ne 0 ] && failed=1
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if [ "$which" = tsan ] || [ "$which" = all ]; then
  build=$root/build-tsan
  configure_and_build "$build" "-fsanitize=thread" pleura_tests
  # OpenBLAS's own threads are not instrumented; with one BLAS thread every thread TSan sees is Pleura's.
  export OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:allocator_may_return_null=1
  cases='parallel_for*,run_jobs*,loader*,host allocator*,interrupt*,train_unet: two epochs*,infer: a batch of three*'
  set +e
  "$build/tests/pleura_tests" -tc="$cases" 2>&1 | tee "$build/tsan.log"
  status=${PIPESTATUS[0]}
  set -e
  summary+=("tsan: $(grep -E '^\[doctest\] test cases' "$build/tsan.log" | tail -n 1) (cases: $cases)")
  [ "$status" -ne 0 ] && failed=1
fi

echo "== sanitizers"
printf '%s\n' "${summary[@]}"
exit "$failed"
