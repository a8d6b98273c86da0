#!/usr/bin/env bash
# Interruption soak: kills train_unet with SIGKILL at N random moments and resumes it each time; the run
# that finally ends must leave files byte-identical to an uninterrupted run's, and no kill may leave a
# half-written checkpoint, CSV or curve behind.
#   scripts/soak-resume.sh [N] [SEED]      (default N = 20, SEED = 1)
# A small CPU configuration (the demo's at 64x64: 40 images, 2 epochs, batch 2) in a temporary folder
# (PLEURA_SOAK_DIR to keep it). In cycles: a fresh run killed at a moment uniform over the uninterrupted
# run's duration (so kills fall mid-step, mid-validation and mid-checkpoint write alike), its --resume
# killed again, a last --resume to the end, then its files compared with the uninterrupted run's. After
# every kill each checkpoint present must read as a whole safetensors file and each CSV end with a full
# line. Ends with "soak: N/N kills resumed ..." or what differed (exit 1).
# With PLEURA_SOAK_ABORTS=M it then runs M trainings that abort half way through a checkpoint write
# (engine/file_io.h's PLEURA_FAULT_WRITE) and checks that each resumes to the same files.
# Environment: PLEURA_BUILD_DIR (default build/; the tools are built there when missing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kills=${1:-20}
RANDOM=${2:-1}
build=${PLEURA_BUILD_DIR:-$root/build}
[[ "$kills" =~ ^[0-9]+$ ]] || { echo "error: N must be a whole number, got '$kills'" >&2; exit 2; }
if [ ! -x "$build/train_unet" ] || [ ! -x "$build/make_demo_data" ]; then
  "$root/scripts/install-deps.sh"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target train_unet make_demo_data prepare_data
fi
work=${PLEURA_SOAK_DIR:-$(mktemp -d)}
[ -n "${PLEURA_SOAK_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
fail() { echo "soak: FAIL: $*" >&2; exit 1; }
[ -z "$(ls -A "$work" 2>/dev/null)" ] || fail "PLEURA_SOAK_DIR '$work' is not empty"
mkdir -p "$work"

"$build/make_demo_data" --out "$work/data" --train 40 --test 4 --size 64 --difficulty demo --threads 2 --seed 3 \
  >/dev/null 2>&1
"$build/prepare_data" --images "$work/data/dicom-images-train" --labels "$work/data/train-rle.csv" \
  --out "$work/cache" --size 64 --threads 2 >/dev/null 2>&1
args=("$root/configs/demo.ini" --set "data.cache=$work/cache" --set "folds.file=$work/data/train_folds_5.csv"
      --set data.size=64 --set train.epochs=2 --set train.batch_size=2 --set scheduler.t_max=2 --set run.workers=2
      --set validation.tops=0.3,0.6 --set validation.areas=0,20 --set validation.bottoms=0.2,0.4)

start=$(date +%s.%N)
"$build/train_unet" "${args[@]}" --set "run.output=$work/a" >"$work/a.log" 2>&1 || { cat "$work/a.log"; fail "uninterrupted run failed"; }
duration=$(echo "$(date +%s.%N) - $start" | bc)
echo "soak: uninterrupted run: ${duration}s; now $kills kills with SIGKILL"

# Every checkpoint present must be a whole safetensors file (its header length and JSON within the file),
# every CSV must end with a newline.
check_outputs() {
  local dir=$1 f
  while IFS= read -r -d '' f; do
    python3 - "$f" <<'PY' || fail "half-written checkpoint after a kill: $f"
import json, struct, sys
data = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
header = json.loads(data[8:8 + n])
end = max((v['data_offsets'][1] for k, v in header.items() if k != '__metadata__'), default=0)
sys.exit(0 if 8 + n + end == len(data) else 1)
PY
  done < <(find "$dir" -name '*.safetensors' -print0)
  while IFS= read -r -d '' f; do
    [ ! -s "$f" ] || [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || fail "CSV cut mid-line after a kill: $f"
  done < <(find "$dir" -name '*.csv' -print0)
}

# One run of train_unet into $work/$1 (more arguments follow), killed with SIGKILL after $2 seconds unless it
# ends first; sets `killed` to 1 or 0.
run_and_kill() {
  local out=$1 after=$2
  shift 2
  "$build/train_unet" "${args[@]}" --set "run.output=$work/$out" "$@" >>"$work/$out.log" 2>&1 &
  local pid=$!
  sleep "$after"
  if kill -KILL "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    killed=1
  else
    wait "$pid" || { tail -n 20 "$work/$out.log"; fail "$out: train_unet failed before its kill"; }
    killed=0
  fi
}

# metrics.csv holds times; its other columns must agree.
without_times() { python3 -c "
import csv, sys
for r in csv.DictReader(open(sys.argv[1])): print(','.join(v for k, v in r.items() if k not in ('epoch_seconds', 'data_wait_share')))" "$1"; }

# Cycles: a fresh run killed at a moment uniform over the uninterrupted run's duration, its --resume
# killed again at a moment uniform over the first half, a last --resume to the end; then the comparison.
done_kills=0
cycles=0
while [ "$done_kills" -lt "$kills" ]; do
  cycles=$((cycles + 1))
  out=b$cycles
  moments=()
  for resume in "" --resume; do
    [ "$done_kills" -lt "$kills" ] || break
    span=$duration
    [ -n "$resume" ] && span=$(echo "$duration / 2" | bc -l)
    after=$(echo "scale=3; 0.3 + ($span - 0.3) * $RANDOM / 32767" | bc)
    # shellcheck disable=SC2086
    run_and_kill "$out" "$after" $resume
    check_outputs "$work/$out"
    if [ "$killed" = 1 ]; then
      done_kills=$((done_kills + 1))
      moments+=("${after}s")
    else
      moments+=("(ended before ${after}s)")
    fi
  done
  "$build/train_unet" "${args[@]}" --set "run.output=$work/$out" --resume >>"$work/$out.log" 2>&1 \
    || { tail -n 20 "$work/$out.log"; fail "$out: the final --resume failed"; }
  differ=()
  for f in checkpoints/albunet_demo_fold0.safetensors checkpoints/fold0/albunet_demo_fold0_last.safetensors \
           checkpoints/fold0/albunet_demo_fold0_last_state.safetensors checkpoints/fold0/summary.csv; do
    cmp -s "$work/a/$f" "$work/$out/$f" || differ+=("$f")
  done
  [ "$(without_times "$work/a/checkpoints/fold0/metrics.csv")" = \
    "$(without_times "$work/$out/checkpoints/fold0/metrics.csv")" ] || differ+=("metrics.csv (columns other than times)")
  stale=$(find "$work/$out" -name '*.tmp.*' | wc -l)
  [ ${#differ[@]} -eq 0 ] || fail "cycle $cycles (kills at ${moments[*]}): final files differ: ${differ[*]}; see $work/$out.log"
  echo "soak: cycle $cycles: kills at ${moments[*]}; resumed to files identical to the uninterrupted run ($stale stale temporary files)"
  rm -rf "${work:?}/$out"
done
echo "soak: $done_kills/$kills kills resumed in $cycles cycles, final files identical to the uninterrupted run every time"

# Aborts in the middle of a checkpoint write (PLEURA_FAULT_WRITE, engine/file_io.h): the K-th write of the
# training state (K random in 1..3: the start of the fold, the end of epoch 0, of epoch 1) dies half way;
# the previous state must survive whole and --resume must end like the uninterrupted run.
aborts=${PLEURA_SOAK_ABORTS:-0}
for k in $(seq 1 "$aborts"); do
  nth=$((1 + RANDOM % 3))
  out=abort$k
  set +e
  # In a subshell whose stderr goes to the log, so that bash's "Aborted" report of the child lands there too.
  (PLEURA_FAULT_WRITE="last_state.safetensors:abort@$nth" "$build/train_unet" "${args[@]}" --set "run.output=$work/$out"; exit $?) \
    >>"$work/$out.log" 2>&1
  status=$?
  set -e
  [ "$status" -ne 0 ] || fail "abort $k: train_unet did not die in its checkpoint write $nth"
  check_outputs "$work/$out"
  "$build/train_unet" "${args[@]}" --set "run.output=$work/$out" --resume >>"$work/$out.log" 2>&1 \
    || { tail -n 20 "$work/$out.log"; fail "abort $k: --resume after the aborted write failed"; }
  for f in checkpoints/fold0/albunet_demo_fold0_last_state.safetensors checkpoints/fold0/summary.csv; do
    cmp -s "$work/a/$f" "$work/$out/$f" || fail "abort $k (write $nth): $f differs from the uninterrupted run"
  done
  rm -rf "${work:?}/$out"
done
[ "$aborts" -eq 0 ] || echo "soak: $aborts/$aborts aborts in the middle of a checkpoint write resumed to identical files"
