#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Builds the programs of tests/fuzz with clang in build-fuzz/ (PLEURA_FUZZ_BUILD_DIR), writes each
# target's seeds, then runs every target (or those named) for SECONDS each (default 60), starting from its
# seeds and the corpus it grew before (build-fuzz/corpus/<target>). Ends with one line per target: runs,
# executions per second, coverage edges, corpus size and "ok", or "CRASH" with the input, which is also
# copied to tests/fuzz/regressions/<target>/ so that the unit tests (ctest -R "fuzz replay") replay it
# from then on. Exits 1 when a target crashed. Targets: tests/fuzz/fuzz_targets.h.
# Environment: PLEURA_FUZZ_BUILD_DIR, PLEURA_JOBS (build jobs, default: the number of cores).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
shift || true
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] || {
  echo "error: SECONDS must be a whole number of seconds >= 1, got '$seconds'" >&2
  exit 2
}
build=${PLEURA_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${PLEURA_JOBS:-$(nproc)}

PLEURA_INSTALL_FUZZ=1 "$root/scripts/install-deps.sh"

flags="-g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPLEURA_CUDA=OFF \
  -DPLEURA_BUILD_TESTS=OFF -DPLEURA_FUZZ=ON -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" --target fuzz_all -j "$jobs"

all_targets=$(sed -n 's/^set(PLEURA_FUZZ_TARGETS \(.*\))$/\1/p' "$root/tests/fuzz/CMakeLists.txt")
targets=("$@")
[ ${#targets[@]} -eq 0 ] && read -r -a targets <<<"$all_targets"
for t in "${targets[@]}"; do
  [[ " $all_targets " == *" $t "* ]] || {
    echo "error: unknown target '$t'; known: $all_targets" >&2
    exit 2
  }
done

seeds=$build/seeds
rm -rf "$seeds"
"$build/tests/fuzz/fuzz_write_seeds" "$root" "$seeds"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
results=()
failed=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  artifacts=$build/artifacts/$t
  rm -rf "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  dict=()
  [ -f "$root/tests/fuzz/dicts/$t.dict" ] && dict=("-dict=$root/tests/fuzz/dicts/$t.dict")
  log=$build/fuzz_$t.log
  echo "== fuzz_$t for ${seconds}s (log: $log)"
  set +e
  # The new corpus directory comes first: libFuzzer adds the inputs it finds there.
  (cd "$artifacts" && "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" "$seeds/$t") >"$log" 2>&1
  status=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -oE "cov: [0-9]+" "$log" | tail -n 1 | cut -d' ' -f2)
  corpus_size=$(find "$corpus" -type f | wc -l)
  verdict=ok
  if [ "$status" -ne 0 ]; then
    failed=1
    crash=$(find "$artifacts" -maxdepth 1 -type f | head -n 1)
    verdict="CRASH (exit $status; see $log)"
    if [ -n "$crash" ]; then
      mkdir -p "$root/tests/fuzz/regressions/$t"
      cp "$crash" "$root/tests/fuzz/regressions/$t/"
      verdict="CRASH (exit $status): input saved as tests/fuzz/regressions/$t/$(basename "$crash"); see $log"
    fi
    tail -n 30 "$log"
  fi
  results+=("$(printf '%-13s runs %-9s exec/s %-6s cov %-6s corpus %-5s %s' "$t" "${runs:-?}" "${speed:-?}" \
    "${cov:-?}" "$corpus_size" "$verdict")")
done

echo "== fuzz results (${seconds}s per target, ASan + UBSan)"
printf '%s\n' "${results[@]}"
exit "$failed"
