#!/usr/bin/env bash
# The test command: installs the Debian packages Pleura needs (only those missing), configures, builds
# with the tests' asserts on, runs every test with ctest and ends with ctest's summary line.
# Environment: PLEURA_BUILD_DIR (default build/), PLEURA_CMAKE_ARGS (extra cmake arguments, e.g.
# -DPLEURA_CUDA=OFF), PLEURA_JOBS (default: number of cores).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PLEURA_BUILD_DIR:-$root/build}
jobs=${PLEURA_JOBS:-$(nproc)}

"$root/scripts/install-deps.sh"

# shellcheck disable=SC2086
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${PLEURA_CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"

log="$build/ctest.log"
set +e
(cd "$build" && ctest --output-on-failure --timeout 900 -j "$jobs") 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
skipped=$(grep -c "(Skipped)" "$log" || true)
[ "$skipped" -gt 0 ] && echo "($skipped test(s) skipped: they need a CUDA device; see the list above)"
grep -E "tests passed|tests failed" "$log" | tail -n 1
exit "$status"
