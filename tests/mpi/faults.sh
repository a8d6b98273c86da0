#!/usr/bin/env bash
# train_unet under mpirun with 2 ranks (ctest mpi.faults): a short run succeeds, logs its world and leaves
# the files rank 0 writes; a rank that throws and a rank that is SIGKILLed inside epoch 0
# (PLEURA_FAULT_RANK=<rank>:<batch>:<error|kill>, tools/train_unet.cpp) end the whole job non-zero within a
# bounded time (never a hang), with a message naming the failed rank.
# Usage: faults.sh BUILD_DIR REPO_ROOT MPIEXEC [MPIEXEC FLAGS...]
set -euo pipefail

bin=$1
root=$2
shift 2
mpiexec=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin/make_demo_data" --out "$work/data" --train 24 --test 2 --size 64 --difficulty demo --threads 2 --seed 5 \
  > /dev/null 2>&1
"$bin/prepare_data" --images "$work/data/dicom-images-train" --labels "$work/data/train-rle.csv" \
  --out "$work/cache" --size 64 --threads 2 > /dev/null

args=("$root/configs/demo.ini" --set "data.cache=$work/cache" --set "folds.file=$work/data/train_folds_5.csv"
      --set data.size=64 --set train.epochs=1 --set train.batch_size=1 --set run.workers=1
      --set folds.use=0 --set validation.tops=0.5 --set validation.areas=0 --set validation.bottoms=0.3)

# A run that must end by itself: 'timeout' ends a hang after 120 s (exit status 124, or 137 after
# --kill-after, which is also mpirun's own status for a rank killed by SIGKILL: the time tells them apart).
# Local ranks inherit PLEURA_FAULT_RANK from mpirun's environment.
run_ranks() {  # NAME FAULT (empty for none)
  local name=$1 fault=$2
  set +e
  local start=$SECONDS
  PLEURA_FAULT_RANK=$fault timeout --kill-after=10 120 "${mpiexec[@]}" -np 2 \
    "$bin/train_unet" "${args[@]}" --set "run.output=$work/$name" > "$work/$name.log" 2>&1
  status=$?
  hung=$(( status == 124 || SECONDS - start >= 120 ))
  set -e
}

# 1. Two ranks train the fold; rank 0 alone wrote the fold's files.
run_ranks ok ""
[ "$status" -eq 0 ] || { cat "$work/ok.log"; fail "two ranks without a fault: exit status $status"; }
grep -q "world: MPI (.*), 2 ranks on 1 machine; batch 1 per rank, 2 per step.*CPU thread(s) per rank" "$work/ok.log" \
  || { cat "$work/ok.log"; fail "no world line naming 2 ranks"; }
[ -s "$work/ok/log/train_main.log" ] || fail "rank 0 wrote no train_main.log"
ls "$work/ok"/checkpoints/*fold0*/summary.csv > /dev/null 2>&1 || fail "rank 0 wrote no summary.csv"

# 2. Rank 1 throws after its second batch: every rank ends, non-zero, naming rank 1.
run_ranks error "1:1:error"
[ "$status" -ne 0 ] || fail "a rank's error ended with exit status 0"
[ "$hung" -eq 0 ] || { cat "$work/error.log"; fail "a rank's error: the job hung"; }
grep -q "train_unet: error: rank 1 of 2: injected fault" "$work/error.log" \
  || { cat "$work/error.log"; fail "the error does not name rank 1"; }

# 3. Rank 1 is killed (SIGKILL) after its second batch: mpirun ends the others and names the rank.
run_ranks kill "1:1:kill"
[ "$status" -ne 0 ] || fail "a killed rank ended with exit status 0"
[ "$hung" -eq 0 ] || { cat "$work/kill.log"; fail "a killed rank: the job hung"; }
grep -qiE "rank 1 .*(signal 9|killed)" "$work/kill.log" \
  || { cat "$work/kill.log"; fail "mpirun does not name the killed rank 1"; }
echo "mpi faults: a clean run of 2 ranks; a rank's error and a killed rank each ended the job non-zero, naming rank 1"
