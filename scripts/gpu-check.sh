#!/usr/bin/env bash
# The prepared call for a lent GPU: everything Pleura needs to learn from a GPU in one run of at most 8
# minutes, with binaries prebuilt on a CPU machine (scripts/gpu-bundle.sh -> .gpu-bundle/, which travels
# with the sources). Steps run in order of value, each under its own timeout, so that a run cut short
# still returns the most important results:
#   gpu-ops    the gpu doctest suite: every op CPU vs CUDA, bad input on CUDA, allocator, counters
#   models     the three UNets CPU vs CUDA at 128x128 (forward and backward), the tiny net
#   tools      train_unet and infer_unet on CUDA: the in-process test, then the command-line tools on a
#              small demo set at 256x256 (a few training steps, flip-TTA inference)
#   bench-unet bench_unet on CUDA: training step at 1024x1024 batch 4 and flip-TTA inference batch 8 of
#              each model, per phase, syncs, launches, memory, TFLOP/s; AlbuNet's step and inference as CUDA graphs
#   pytorch    bench/reference/pytorch_gpu_bench.py: PyTorch fp32 / TF32 / bf16+channels_last / compile
#   bench-ops  bench_cuda_ops: every op against copy bandwidth, cuDNN convolutions against GEMM
#   memcheck   compute-sanitizer memcheck on the op-level gpu cases (caching allocator off)
#   racecheck  compute-sanitizer racecheck on the kernels that use shared memory
# Everything lands in $OUT (else build-gpu/check/) as at most 8 files: summary.json (every step's status
# and the parsed results, made by scripts/gpu_check_summary.py), run.log, tests.log, bench_unet.jsonl,
# pytorch.json, bench_cuda_ops.json, sanitizer.log. The card's settings are never touched.
#
# Usage: scripts/gpu-check.sh [--dry-run] [--only STEP,...]
#   --dry-run   print the plan (steps, timeouts, their sum) and check the bundle against the sources;
#               needs no GPU; exits non-zero when the plan exceeds 480 s or the bundle is missing/stale
#               (PLEURA_DRY_RUN_NO_BUNDLE=1 checks the plan alone, as CI does)
#   --only      run these steps alone (a rerun of what failed), e.g. --only tools,memcheck
# Environment: PLEURA_ALLOW_STALE=1 accepts a bundle built from other sources; PLEURA_GPU_BUNDLE=DIR
# takes the bundle from DIR instead of .gpu-bundle/.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
plan_limit=480

# name:timeout_s, in order of value. The sum (with the setup allowance) must stay within plan_limit.
setup_s=20
steps=(gpu-ops:70 models:40 tools:45 bench-unet:120 pytorch:105 bench-ops:25 memcheck:35 racecheck:20)

dry_run=0
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --only) only=${2:-}; shift ;;
    --only=*) only=${1#--only=} ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu-check: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

selected() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
if [ -n "$only" ]; then
  for s in ${only//,/ }; do
    printf '%s\n' "${steps[@]}" | grep -q "^$s:" || { echo "gpu-check: error: unknown step '$s'" >&2; exit 2; }
  done
fi

# --- the bundle: present, built from these sources, small enough to travel ---
bundle=${PLEURA_GPU_BUNDLE:-$root/.gpu-bundle}
bundle_problem() {
  [ -f "$bundle/source-hash" ] || { echo "no bundle in .gpu-bundle/ (run scripts/gpu-bundle.sh)"; return; }
  local want have
  want=$("$root/scripts/source-hash.sh")
  have=$(cat "$bundle/source-hash")
  if [ "$want" != "$have" ] && [ "${PLEURA_ALLOW_STALE:-0}" != 1 ]; then
    echo "bundle is stale: built from sources $have, these are $want (rerun scripts/gpu-bundle.sh)"
    return
  fi
  local b
  for b in pleura_tests bench_unet bench_cuda_ops train_unet infer_unet make_demo_data prepare_data; do
    [ -x "$bundle/bin/$b" ] || { echo "bundle lacks bin/$b (rerun scripts/gpu-bundle.sh)"; return; }
  done
  local mib
  mib=$(du -sm "$bundle" | cut -f1)
  [ "$mib" -lt 60 ] || echo "bundle is $mib MiB: over the 60 MiB left for it under the device's 64 MiB carry limit"
}

# --- the plan ---
total=$setup_s
echo "gpu-check plan (timeouts in seconds, in order of value):"
printf '  %-11s %4s\n' setup "$setup_s"
for entry in "${steps[@]}"; do
  name=${entry%%:*}
  t=${entry##*:}
  if selected "$name"; then
    printf '  %-11s %4s\n' "$name" "$t"
    total=$((total + t))
  fi
done
printf '  %-11s %4s (limit %s)\n' total "$total" "$plan_limit"
if [ "$dry_run" = 1 ]; then
  status=0
  [ "$total" -le "$plan_limit" ] || { echo "gpu-check: error: the plan takes $total s, over $plan_limit s" >&2; status=1; }
  if [ "${PLEURA_DRY_RUN_NO_BUNDLE:-0}" != 1 ]; then
    problem=$(bundle_problem)
    if [ -n "$problem" ]; then
      echo "gpu-check: error: $problem" >&2
      status=1
    else
      echo "bundle: $(cat "$bundle/build-info"), sources $(cat "$bundle/source-hash") (match), $(du -sh "$bundle" | cut -f1)"
    fi
  fi
  exit "$status"
fi

out=${OUT:-$root/build-gpu/check}
mkdir -p "$out"
exec > >(tee "$out/run.log") 2>&1
start=$(date +%s)
steps_file=$(mktemp)
record() {  # name status seconds timeout detail
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$steps_file"
}
# Runs "$@" under a timeout; records ok / failed (rc) / timeout.
run_step() {
  local name=$1 limit=$2
  shift 2
  echo
  echo "== $name (timeout ${limit} s)"
  local t0 rc status
  t0=$(date +%s)
  timeout -k 5 "$limit" "$@"
  rc=$?
  case $rc in
    0) status=ok ;;
    124|137) status=timeout ;;
    *) status="failed (rc $rc)" ;;
  esac
  record "$name" "$status" "$(( $(date +%s) - t0 ))" "$limit" ""
  echo "-- $name: $status in $(( $(date +%s) - t0 )) s"
  return 0
}
timeout_of() { printf '%s\n' "${steps[@]}" | grep "^$1:" | cut -d: -f2; }

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1

# --- setup: the bundle (or a build here, which takes minutes more), the CUDA libraries ---
bin=""
problem=$(bundle_problem)
if [ -z "$problem" ]; then
  echo "== prebuilt bundle: $(cat "$bundle/build-info"), sources $(cat "$bundle/source-hash")"
  libdir=$(mktemp -d)
  tar -xJf "$bundle/libs.tar.xz" -C "$libdir"
  export LD_LIBRARY_PATH="$libdir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  bin=$bundle/bin
  record setup ok "$(( $(date +%s) - start ))" "$setup_s" "prebuilt bundle"
else
  echo "== $problem: building here (outside the plan's time)"
  build=$root/build-gpu
  if cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPLEURA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
       >"$out/tests.log" 2>&1 && cmake --build "$build" -j "$(nproc)" >>"$out/tests.log" 2>&1; then
    mkdir -p "$build/bin"
    cp "$build/tests/pleura_tests" "$build/bench/bench_unet" "$build"/bench/bench_cuda_ops "$build/bin/"
    for t in train_unet infer_unet make_demo_data prepare_data; do cp "$build/$t" "$build/bin/"; done
    bin=$build/bin
    record setup ok "$(( $(date +%s) - start ))" "$setup_s" "built here"
  else
    tail -n 30 "$out/tests.log"
    record setup "failed (build)" "$(( $(date +%s) - start ))" "$setup_s" "see tests.log"
    python3 "$root/scripts/gpu_check_summary.py" "$out" "$steps_file"
    exit 1
  fi
fi
find_cuda_lib() {  # system paths first, then the Python nvidia-* wheels (as shipped with PyTorch)
  local name=$1 dir hit
  ldconfig -p 2>/dev/null | grep -q "$name" && { echo system; return; }
  for dir in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu; do
    [ -e "$dir/$name" ] && { echo "$dir"; return; }
  done
  for dir in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) \
             /opt/*/.venv/lib/python3*/site-packages; do
    [ -d "$dir/nvidia" ] || continue
    hit=$(find "$dir/nvidia" -name "$name" 2>/dev/null | head -n 1)
    [ -n "$hit" ] && { dirname "$hit"; return; }
  done
  echo missing
}
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do  # NCCL: dlopen by the data-parallel case
  where=$(find_cuda_lib "$lib")
  echo "$lib: $where"
  case "$where" in
    system|missing) ;;
    *) export LD_LIBRARY_PATH="$where:${LD_LIBRARY_PATH:-}" ;;
  esac
done

# Doctest case filters: whole models and whole tools run in their own steps (and stay out of the
# sanitizers, 10-100x slower, where the op-level cases cover every kernel they use).
models="*forward and backward at 128x128*,tiny net*"
tools="*CUDA runs end close*,*cuda_graphs replays*"
# CUDA graph captures need the caching allocator, which the sanitizer runs turn off: not under memcheck.
graphs="captured function*,*cuda_graphs*"
shared_memory="*sum*,*mean*,*mul*,*batch_norm*,*global_avg_pool*,*combo_loss*,*triplet*,*scse*"

step_tools() {
  "$bin/pleura_tests" -ts=gpu -tc="$tools" || return 1
  local work
  work=$(mktemp -d)
  "$bin/make_demo_data" --out "$work/data" --train 48 --test 8 --size 256 --difficulty demo --seed 5 &&
  "$bin/prepare_data" --images "$work/data/dicom-images-train" --labels "$work/data/train-rle.csv" \
    --out "$work/cache" --size 256 &&
  "$bin/prepare_data" --images "$work/data/dicom-images-test" --out "$work/cache-test" --size 256 &&
  "$bin/train_unet" "$root/configs/demo.ini" --set run.device=cuda --set "run.output=$work/run" \
    --set "data.cache=$work/cache" --set "folds.file=$work/data/train_folds_5.csv" --set data.size=256 \
    --set train.epochs=1 --set scheduler.t_max=1 &&
  "$bin/infer_unet" --model albunet --weights "$work/run/checkpoints/albunet_demo_fold0.safetensors" \
    --input "$work/cache-test" --output "$work/maps" --size 256 --flip --device cuda &&
  [ "$(find "$work/maps" -name '*.npy' | wc -l)" -eq 8 ]
}

# One bench_unet run at 1024x1024 (training batch 4, flip-TTA inference batch 8, 2 warm-up steps, where
# cuDNN's algorithms are timed), its JSON line kept in bench_unet.jsonl.
bench_unet_run() {
  "$bin/bench_unet" --size 1024 --batch 4 --infer-batch 8 --flip --steps 5 --warmup 2 --device cuda --json "$@" \
    >"$out/bench_unet.part" 2>&1
  local rc=$?
  cat "$out/bench_unet.part"
  grep -E '^\{' "$out/bench_unet.part" >>"$out/bench_unet.jsonl"
  rm -f "$out/bench_unet.part"
  return $rc
}

step_bench_unet() {
  local m rc=0
  # float32 (TF32 allowed, as PyTorch's default), then the bf16 policy (the target's mode; with what its
  # forward pass leaves held for backward, op by op, measured in the phase-timing steps, off the timed ones).
  for m in albunet resnet50_unet scse_unet; do bench_unet_run --model "$m" || rc=1; done
  for m in albunet resnet50_unet scse_unet; do bench_unet_run --model "$m" --precision bf16 --held-by-op || rc=1; done
  # AlbuNet in bf16 with CUDA graphs (train_unet's [run] cuda_graphs, infer_unet --cuda-graphs): the
  # training step and the inference replayed after the 2 warm-ups.
  bench_unet_run --model albunet --precision bf16 --cuda-graphs || rc=1
  return $rc
}

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer 2>/dev/null | head -n 1)
step_sanitizer() {
  local tool=$1
  shift
  [ -n "$sanitizer" ] || { echo "compute-sanitizer not found"; return 1; }
  PLEURA_CUDA_NO_CACHE=1 "$sanitizer" --tool "$tool" --error-exitcode 3 "$@" 2>&1 | tail -n 200 >>"$out/sanitizer.log"
  local rc=${PIPESTATUS[0]}
  grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer.log" | tail -n 1
  return "$rc"
}

selected gpu-ops && run_step gpu-ops "$(timeout_of gpu-ops)" \
  bash -c '"$0" -ts=gpu -tce="$1,$2" 2>&1 | tee -a "$3"' "$bin/pleura_tests" "$models" "$tools" "$out/tests.log"
selected models && run_step models "$(timeout_of models)" \
  bash -c '"$0" -ts=gpu -tc="$1" 2>&1 | tee -a "$2"' "$bin/pleura_tests" "$models" "$out/tests.log"
export -f step_tools bench_unet_run step_bench_unet step_sanitizer
export bin root out tools sanitizer
selected tools && run_step tools "$(timeout_of tools)" bash -c 'step_tools 2>&1 | tee -a "$out/tests.log"; exit ${PIPESTATUS[0]}'
selected bench-unet && run_step bench-unet "$(timeout_of bench-unet)" bash -c step_bench_unet
selected pytorch && run_step pytorch "$(timeout_of pytorch)" \
  env PYTHONUNBUFFERED=1 python3 "$root/bench/reference/pytorch_gpu_bench.py" --budget-s $(( $(timeout_of pytorch) - 8 )) \
  --json "$out/pytorch.json"
selected bench-ops && run_step bench-ops "$(timeout_of bench-ops)" "$bin/bench_cuda_ops" --json "$out/bench_cuda_ops.json"
selected memcheck && run_step memcheck "$(timeout_of memcheck)" \
  bash -c 'step_sanitizer memcheck "$bin/pleura_tests" -ts=gpu -tce="$0,$1,$2"' "$models" "$tools" "$graphs"
selected racecheck && run_step racecheck "$(timeout_of racecheck)" \
  bash -c 'step_sanitizer racecheck --racecheck-report all "$bin/pleura_tests" -ts=gpu -tc="$0" -tce="$1,$2"' \
  "$shared_memory" "$models" "$tools"

echo
python3 "$root/scripts/gpu_check_summary.py" "$out" "$steps_file"
printf '%-11s %s s\n' "total" "$(( $(date +%s) - start ))"
! grep -qv $'\tok\t' "$steps_file"
