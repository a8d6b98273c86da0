#!/usr/bin/env bash
# Tests of scripts/demo.sh --gpu on a machine without a GPU (ctest scripts.demo_gpu): without a CUDA build
# or device it refuses, naming what is missing, exits 1 and writes nothing; bad settings and a WORKDIR of
# other contents are refused; and with PLEURA_DEMO_DEVICE=cpu the whole pipeline runs at 64x64 (30 training
# images, 1 epoch of batch 2; about 15 s on 2 cores) and ends with the times, the score JSON and the
# targets line; a second run reuses the data and trains anew. The tools are the build's (PLEURA_DEMO_BIN).
# Usage: demo_gpu.sh TOOLS_DIR REPO_ROOT
set -euo pipefail
bin=$1
root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
demo=$root/scripts/demo.sh
has_gpu=0
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU' && has_gpu=1

# Runs the demo with the given environment; its output in $work/out, its exit status in $rc.
run_demo() {
  rc=0
  env "$@" bash "$demo" --gpu "$target" >"$work/out" 2>&1 || rc=$?
}
expect_refusal() {  # MESSAGE...: exit 1, each message in the output, nothing written
  [ "$rc" -eq 1 ] || { cat "$work/out"; fail "exit status $rc, expected 1"; }
  local m
  for m in "$@"; do grep -qF -- "$m" "$work/out" || { cat "$work/out"; fail "no message '$m'"; }; done
  [ ! -e "$target" ] || fail "a refused run wrote $target"
}

# No CUDA build (tools that are not linked with cuDNN), and no device when this machine has none.
fake=$work/fake-bin
mkdir -p "$fake"
for t in make_demo_data prepare_data train_unet infer_unet search_triplets rle_submit score_submission; do
  printf '#!/bin/sh\nexit 0\n' >"$fake/$t"
  chmod +x "$fake/$t"
done
target=$work/refused
run_demo PLEURA_DEMO_BIN="$fake"
expect_refusal "no CUDA build: $fake/train_unet is not linked with cuDNN" "nothing was written"
if [ "$has_gpu" = 0 ]; then
  grep -q "no CUDA device" "$work/out" || { cat "$work/out"; fail "no message naming the missing device"; }
  # The real build (with or without CUDA): the missing device alone suffices to refuse.
  run_demo PLEURA_DEMO_BIN="$bin"
  expect_refusal "no CUDA device" "nothing was written"
fi

# Bad settings, named with their value.
run_demo PLEURA_DEMO_BIN="$bin" PLEURA_DEMO_DEVICE=cpu PLEURA_DEMO_SIZE=100
expect_refusal "PLEURA_DEMO_SIZE is '100': expected a multiple of 64 from 64 to 2048"
run_demo PLEURA_DEMO_BIN="$bin" PLEURA_DEMO_DEVICE=cpu PLEURA_DEMO_TRAIN=ten
expect_refusal "PLEURA_DEMO_TRAIN is 'ten': expected an integer from 25 to 100000"
run_demo PLEURA_DEMO_BIN="$bin" PLEURA_DEMO_DEVICE=gpu
expect_refusal "PLEURA_DEMO_DEVICE is 'gpu': expected cuda, cuda:N or cpu"
run_demo PLEURA_DEMO_BIN="$bin" PLEURA_DEMO_DEVICE=cpu PLEURA_DEMO_PRECISION=fp16
expect_refusal "PLEURA_DEMO_PRECISION is 'fp16': expected bf16 or fp32"

# A WORKDIR that holds something else.
target=$work/other
mkdir -p "$target"
touch "$target/keep"
run_demo PLEURA_DEMO_BIN="$bin" PLEURA_DEMO_DEVICE=cpu PLEURA_DEMO_SIZE=64
if [ "$rc" -ne 1 ] || ! grep -q "is not empty and holds no GPU demo" "$work/out"; then
  cat "$work/out"
  fail "a foreign WORKDIR was not refused"
fi
[ "$(ls -A "$target")" = keep ] || fail "the refused run wrote into $target"

# The pipeline on the CPU at a tiny scale.
tiny=(PLEURA_DEMO_BIN="$bin" PLEURA_DEMO_DEVICE=cpu PLEURA_DEMO_SIZE=64 PLEURA_DEMO_TRAIN=30 PLEURA_DEMO_TEST=10
      PLEURA_DEMO_EPOCHS=1 PLEURA_DEMO_BATCH=2)
target=$work/demo
run_demo "${tiny[@]}"
[ "$rc" -eq 0 ] || { cat "$work/out"; fail "the tiny CPU run failed (exit $rc)"; }
check_output() {
  grep -q "^device: cpu, precision: bf16, 64x64, 30 training and 10 test images, epochs: 1, batch: 2$" "$work/out" \
    || fail "no settings line"
  grep -q "^training time: [0-9.]* s (train_unet at 64x64, epochs: 1, batch: 2, cpu, bf16)$" "$work/out" \
    || fail "no training time line"
  grep -q "^total time: [0-9]* s (build excluded)$" "$work/out" || fail "no total time line"
  grep -q '^{"kaggle_dice":[0-9.e+-]*,"dice_positive":' "$work/out" || fail "no score JSON line"
  tail -n 1 "$work/out" | grep -qE '^targets: dice_positive [0-9.e+-]+ >= 0\.8 (met|NOT met), training [0-9.]+ s <= 300 s (met|NOT met): (met|NOT met)$' \
    || fail "the last line is not the targets line: $(tail -n 1 "$work/out")"
  [ "$(wc -l <"$target/submission.csv")" -eq 11 ] || fail "the submission lacks rows: $(wc -l <"$target/submission.csv")"
  [ -f "$target/experiment/checkpoints/albunet_demo_gpu_fold0.safetensors" ] || fail "no best checkpoint"
  [ -f "$target/overlays-test/index.html" ] || fail "no review page"
}
check_output || { cat "$work/out"; exit 1; }
grep -q "^=== make_demo_data: 30 training and 10 test images (64x64 DICOM)$" "$work/out" || fail "no data step"
grep -q "realistic" "$work/out" || fail "the data set is not the realistic one"
[ "$(cat "$target/demo-gpu.settings")" = "size=64 train=30 test=10 difficulty=realistic seed=0" ] \
  || fail "settings file: $(cat "$target/demo-gpu.settings")"

# Again in the same WORKDIR: the data are kept, the model is trained anew.
before=$(stat -c %Y "$target/experiment/checkpoints/albunet_demo_gpu_fold0.safetensors")
sleep 1
run_demo "${tiny[@]}"
[ "$rc" -eq 0 ] || { cat "$work/out"; fail "the second tiny CPU run failed (exit $rc)"; }
check_output || { cat "$work/out"; exit 1; }
grep -q "=== make_demo_data" "$work/out" && fail "the second run made the data again"
[ "$(stat -c %Y "$target/experiment/checkpoints/albunet_demo_gpu_fold0.safetensors")" -gt "$before" ] \
  || fail "the second run did not train anew"

# Other settings in that WORKDIR are refused, naming both.
run_demo "${tiny[@]}" PLEURA_DEMO_TRAIN=40
[ "$rc" -eq 1 ] || fail "other settings in a used WORKDIR were accepted"
grep -qF "made with 'size=64 train=30 test=10 difficulty=realistic seed=0', this run asks for 'size=64 train=40" \
  "$work/out" || { cat "$work/out"; fail "no message naming both settings"; }
echo "demo_gpu: all checks passed"
