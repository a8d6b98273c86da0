#!/usr/bin/env bash
# One call on a lent GPU machine tells the whole truth: builds Release for sm_90 (or takes the
# prebuilt .gpu-bundle/ made by scripts/gpu-bundle.sh when it matches these sources), runs every GPU
# test (the doctest suite "gpu"), compute-sanitizer memcheck on the gpu tests and racecheck on the kernels
# that use shared memory, then the GPU benchmarks; prints a short table last. Logs and JSON go to $OUT
# when it is set (else build-gpu/check/), at most 8 files. Never changes the card's settings.
# Environment: PLEURA_GPU_SKIP_SANITIZER=1 skips the sanitizer runs; PLEURA_ALLOW_STALE=1 accepts a
# bundle built from other sources.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${OUT:-$root/build-gpu/check}
mkdir -p "$out"
start=$(date +%s)
summary=()
note() { summary+=("$(printf '%-26s %s' "$1" "$2")"); }
elapsed() { echo $(( $(date +%s) - start ))s; }

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1

# --- binaries: the bundle when it matches, else a build here ---
bin=""
if [ -f "$root/.gpu-bundle/source-hash" ]; then
  want=$("$root/scripts/source-hash.sh")
  have=$(cat "$root/.gpu-bundle/source-hash")
  if [ "$want" = "$have" ] || [ "${PLEURA_ALLOW_STALE:-0}" = 1 ]; then
    echo "== using prebuilt bundle (sources $have, $(cat "$root/.gpu-bundle/build-info"))"
    libdir=$(mktemp -d)
    tar -xJf "$root/.gpu-bundle/libs.tar.xz" -C "$libdir"
    export LD_LIBRARY_PATH="$libdir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    bin="$root/.gpu-bundle/bin"
    note "binaries" "prebuilt bundle ($have)"
  else
    echo "== bundle is stale (bundle $have, sources $want): building here"
  fi
fi
if [ -z "$bin" ]; then
  echo "== build (Release, sm_90)"
  build=$root/build-gpu
  if cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPLEURA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
       >"$out/build.log" 2>&1 && cmake --build "$build" -j "$(nproc)" >>"$out/build.log" 2>&1; then
    mkdir -p "$build/bin"
    cp "$build/tests/pleura_tests" "$build/bin/"
    find "$build/bench" -maxdepth 2 -type f -executable -name 'bench_*' -exec cp {} "$build/bin/" \;
    cp "$build/bench/bench_unet" "$build/bin/"
    bin="$build/bin"
    note "binaries" "built here in $(elapsed)"
  else
    tail -n 30 "$out/build.log"
    echo "build failed; see $out/build.log"
    exit 1
  fi
fi

# --- CUDA libraries: system paths first, then the Python nvidia-* wheels ---
find_lib() {
  local name=$1 dir
  if ldconfig -p 2>/dev/null | grep -q "$name"; then echo system; return; fi
  for dir in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu; do
    [ -e "$dir/$name" ] && { echo "$dir"; return; }
  done
  for dir in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) /opt/*/.venv/lib/python3*/site-packages; do
    [ -d "$dir/nvidia" ] || continue
    local hit
    hit=$(find "$dir/nvidia" -name "$name" 2>/dev/null | head -n 1)
    [ -n "$hit" ] && { dirname "$hit"; return; }
  done
  echo missing
}
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13; do
  where=$(find_lib "$lib")
  echo "$lib: $where"
  case "$where" in
    system) ;;
    missing) note "$lib" "NOT FOUND" ;;
    *) export LD_LIBRARY_PATH="$where:${LD_LIBRARY_PATH:-}" ;;
  esac
done
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

# --- tests: the gpu suite (the CPU suite is CI's; run it here with "$bin/pleura_tests" if wanted) ---
echo "== gpu tests"
timeout 240 "$bin/pleura_tests" -ts=gpu 2>&1 | tee "$out/gpu-tests.log" | tail -n 40
gpu_rc=${PIPESTATUS[0]}
note "gpu tests" "rc=$gpu_rc $(grep -E '^\[doctest\] test cases' "$out/gpu-tests.log" | tail -n 1 | sed 's/^\[doctest\] //')"
grep -q -m1 "skipped: no CUDA device" "$out/gpu-tests.log" && note "WARNING" "gpu tests were skipped"

# --- compute-sanitizer ---
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer 2>/dev/null | head -n 1)
if [ "${PLEURA_GPU_SKIP_SANITIZER:-0}" = 1 ] || [ -z "$sanitizer" ]; then
  note "compute-sanitizer" "not run (${sanitizer:-not found})"
else
  # Whole models and whole tools run in the gpu tests above; under the sanitizers (10-100x slower) only
  # the op-level cases, which cover every kernel those use.
  whole="*forward and backward at 128x128*,*CUDA runs end close*"
  echo "== memcheck (caching allocator off)"
  PLEURA_CUDA_NO_CACHE=1 timeout 200 "$sanitizer" --tool memcheck --error-exitcode 3 \
    "$bin/pleura_tests" -ts=gpu -tce="$whole" >"$out/memcheck.log" 2>&1
  mc=$?
  note "memcheck" "rc=$mc $(grep -E 'ERROR SUMMARY' "$out/memcheck.log" | tail -n 1)"
  echo "== racecheck (shared-memory kernels)"
  shared_cases="*sum*,*mean*,*mul*,*batch_norm*,*global_avg_pool*,*combo_loss*,*triplet*,*scse*"
  PLEURA_CUDA_NO_CACHE=1 timeout 100 "$sanitizer" --tool racecheck --racecheck-report all --error-exitcode 3 \
    "$bin/pleura_tests" -ts=gpu -tc="$shared_cases" -tce="$whole" >"$out/racecheck.log" 2>&1
  rc=$?
  note "racecheck" "rc=$rc $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$out/racecheck.log" | tail -n 1)"
fi

# --- benchmarks ---
for b in "$bin"/bench_cuda*; do
  [ -x "$b" ] || continue
  name=$(basename "$b")
  echo "== $name"
  timeout 150 "$b" --json "$out/$name.json" 2>&1 | tee "$out/$name.log" | tail -n 60
  note "$name" "rc=${PIPESTATUS[0]} (table above, JSON in $name.json)"
done

# --- whole models: a training step and an eval forward at 1024x1024, batch 2 ---
if [ -x "$bin/bench_unet" ]; then
  for model in albunet resnet50_unet scse_unet; do
    echo "== bench_unet $model"
    timeout 120 "$bin/bench_unet" --model "$model" --size 1024 --batch 2 --steps 5 --warmup 2 --device cuda --json \
      >"$out/bench_unet.part" 2>&1
    cat "$out/bench_unet.part" >>"$out/bench_unet.log"
    tail -n 4 "$out/bench_unet.part"
    line=$(grep -E '^\{' "$out/bench_unet.part" | tail -n 1)
    rm -f "$out/bench_unet.part"
    note "bench_unet $model" "${line:-failed (see bench_unet.log)}"
  done
fi

echo
echo "================ gpu-check summary ================"
printf '%s\n' "${summary[@]}"
printf '%-26s %s\n' "total time" "$(elapsed)"
[ "$gpu_rc" -eq 0 ]
