#!/usr/bin/env bash
# End-to-end test of the command-line pipeline at a tiny size (ctest e2e.pipeline):
#   make_demo_data -> prepare_data -> train_unet (2 epochs; one run killed by a real SIGTERM inside
#   epoch 0 and continued with --resume, one run uninterrupted: their files must be byte-identical)
#   -> infer_unet (top-k of the fold, flip) -> search_triplets -> rle_submit (also with --overlays)
#   -> score_submission; then the runner's exit statuses on the built programs (--help, a usage error,
#   standard output on /dev/full).
# Usage: pipeline.sh TOOLS_DIR REPO_ROOT
set -euo pipefail

bin=$1
root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
check_file() { [ -s "$1" ] || fail "missing or empty: $1"; }

"$bin/make_demo_data" --out "$work/data" --train 40 --test 10 --size 64 --difficulty demo --threads 2 --seed 3
"$bin/prepare_data" --images "$work/data/dicom-images-train" --labels "$work/data/train-rle.csv" \
  --out "$work/cache" --size 64 --threads 2
"$bin/prepare_data" --images "$work/data/dicom-images-test" --out "$work/cache-test" --size 64 --threads 2

# The demo's configuration at 64x64, 2 epochs, batch 2 (about 15 steps an epoch), a small grid.
train_args=(--set "data.cache=$work/cache" --set "folds.file=$work/data/train_folds_5.csv"
            --set data.size=64 --set train.epochs=2 --set train.batch_size=2 --set scheduler.t_max=2
            --set run.workers=2
            --set validation.tops=0.3,0.6 --set validation.areas=0,20 --set validation.bottoms=0.2,0.4)

# A: uninterrupted.
"$bin/train_unet" "$root/configs/demo.ini" "${train_args[@]}" --set "run.output=$work/a" > "$work/a.log" 2>&1 \
  || { cat "$work/a.log"; fail "train_unet (uninterrupted) failed"; }

# B: killed by SIGTERM once epoch 0 has made progress, then resumed.
"$bin/train_unet" "$root/configs/demo.ini" "${train_args[@]}" --set "run.output=$work/b" > "$work/b1.log" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  grep -q "epoch 0 train [1-9][0-9]*/" "$work/b1.log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -TERM "$pid" 2>/dev/null || true
set +e
wait "$pid"
status=$?
set -e
[ "$status" -eq 143 ] || { cat "$work/b1.log"; fail "train_unet after SIGTERM exited $status, expected 143"; }
grep -q "stopped by signal 15" "$work/b1.log" || fail "no 'stopped by signal 15' message"
state=$work/b/checkpoints/fold0/albunet_demo_fold0_last_state.safetensors
check_file "$state"
# Without --resume an interrupted run is refused, and nothing is overwritten.
if "$bin/train_unet" "$root/configs/demo.ini" "${train_args[@]}" --set "run.output=$work/b" > "$work/b2.log" 2>&1; then
  fail "train_unet restarted over an interrupted run without --resume"
fi
grep -q "add --resume" "$work/b2.log" || { cat "$work/b2.log"; fail "no hint to --resume"; }
"$bin/train_unet" "$root/configs/demo.ini" "${train_args[@]}" --set "run.output=$work/b" --resume > "$work/b3.log" 2>&1 \
  || { cat "$work/b3.log"; fail "train_unet --resume failed"; }

for f in checkpoints/albunet_demo_fold0.safetensors checkpoints/fold0/albunet_demo_fold0_last.safetensors \
         checkpoints/fold0/albunet_demo_fold0_last_state.safetensors checkpoints/fold0/summary.csv; do
  check_file "$work/a/$f"
  cmp -s "$work/a/$f" "$work/b/$f" || fail "killed-and-resumed run differs from the uninterrupted one: $f"
done
check_file "$work/a/checkpoints/fold0/learning_curve.png"
check_file "$work/a/checkpoints/fold0/metrics.csv"
echo "kill + resume: bit-identical to the uninterrupted run"

# Inference: the fold's top-2 epochs by summary.csv, flip TTA, on the validation fold and the test set.
mkdir -p "$work/valid"
awk -F, 'NR > 1 && $2 == 0 { print $1 }' "$work/data/train_folds_5.csv" | while read -r name; do
  ln -s "$work/cache/images/$name" "$work/valid/$name"
done
infer=("$bin/infer_unet" --model albunet --pipeline "$work/a" --pipeline-name albunet_demo --top-k 2 --folds 0
       --size 64 --flip --workers 2)
"${infer[@]}" --input "$work/valid" --output "$work/probs-valid"
"${infer[@]}" --input "$work/cache-test" --output "$work/probs-test" --format png
[ "$(ls "$work/probs-valid" | grep -c '\.npy$')" -eq 8 ] || fail "expected 8 validation maps"
[ "$(ls "$work/probs-test" | grep -c '\.png$')" -eq 10 ] || fail "expected 10 test maps"

"$bin/search_triplets" --probs "$work/probs-valid" --masks "$work/cache/masks" --tops 0.3,0.6 --areas 0,20 \
  --bottoms 0.2,0.4 --json "$work/triplets.json"
triplet=$(sed -n 's/.*"best": *{ *"triplet": *\[\([^]]*\)\].*/\1/p' "$work/triplets.json" | tr -d ' ')
[ -n "$triplet" ] || fail "no best triplet in triplets.json"
[ "$(grep -o '"triplet"' "$work/triplets.json" | wc -l)" -eq 9 ] || fail "expected 8 grid triplets and the best"

"$bin/rle_submit" --probs "$work/probs-test" --triplet "$triplet" \
  --sample-submission "$work/data/sample_submission.csv" --out "$work/submission.csv" --height 64 --width 64
[ "$(wc -l < "$work/submission.csv")" -eq 11 ] || fail "expected a header and 10 rows in submission.csv"
diff <(cut -d, -f1 "$work/submission.csv") <(cut -d, -f1 "$work/data/sample_submission.csv") \
  || fail "submission ids differ from the sample submission's"
# The same submission with its overlays against the test truth: the CSV is unchanged, one PNG per image.
"$bin/rle_submit" --probs "$work/probs-test" --triplet "$triplet" \
  --sample-submission "$work/data/sample_submission.csv" --out "$work/submission-ov.csv" --height 64 --width 64 \
  --overlays "$work/overlays" --images "$work/cache-test" --labels "$work/data/test-rle.csv" > "$work/overlays.txt"
cmp -s "$work/submission.csv" "$work/submission-ov.csv" || fail "--overlays changed the submission"
grep -q "; open $work/overlays/index.html" "$work/overlays.txt" || fail "rle_submit did not name index.html"
[ "$(ls "$work/overlays" | grep -c '\.png$')" -eq 10 ] || fail "expected 10 overlay PNGs"
[ "$(grep -c '<a class="tile' "$work/overlays/index.html")" -eq 10 ] || fail "expected 10 tiles in index.html"

"$bin/score_submission" "$work/submission.csv" "$work/data/test-rle.csv" --height 64 --width 64 --json \
  > "$work/score.txt"
json=$(tail -n 1 "$work/score.txt")
for key in kaggle_dice dice_positive empty_accuracy empty_submission_dice images; do
  echo "$json" | grep -q "\"$key\":" || fail "score JSON lacks $key: $json"
done
echo "$json" | grep -q '"images":10,' || fail "score JSON does not count 10 images: $json"
echo "score: $json"

# The runner's frame on the built programs: --help exits 0, a usage error 2, and standard output that
# cannot be written (/dev/full) makes a run fail with 1 and a message naming it.
for tool in make_demo_data prepare_data train_unet infer_unet search_triplets rle_submit score_submission \
            bench/bench_unet; do
  "$bin/$tool" --help > "$work/help.txt" || fail "$tool --help failed"
  head -n 1 "$work/help.txt" | grep -q "^usage: $(basename "$tool")" || fail "$tool --help has no usage line"
done
set +e
"$bin/prepare_data" --images "$work/data" --sizes 64 2> "$work/usage.err"
status=$?
set -e
[ "$status" -eq 2 ] || fail "prepare_data with an unknown option exited $status, expected 2"
grep -qx "prepare_data: error: unknown option --sizes" "$work/usage.err" || { cat "$work/usage.err"; fail "usage message"; }
# check_full TOOL ARGS...: the tool's standard output is /dev/full.
check_full() {
  set +e
  "$bin/$1" "${@:2}" > /dev/full 2> "$work/full.err"
  local status=$?
  set -e
  [ "$status" -eq 1 ] || fail "$1 > /dev/full exited $status, expected 1"
  grep -qx "$1: error: could not write to standard output (.*)" "$work/full.err" \
    || { cat "$work/full.err"; fail "$1 > /dev/full: no message naming standard output"; }
}
if [ -w /dev/full ]; then
  check_full score_submission "$work/submission.csv" "$work/data/test-rle.csv" --height 64 --width 64 --json
  check_full rle_submit --help
fi
echo "e2e pipeline: OK"
