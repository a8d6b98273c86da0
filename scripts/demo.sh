#!/usr/bin/env bash
# The demo: the whole pipeline of the solution on a small synthetic data set, end to end.
#   scripts/demo.sh [WORKDIR]        (default WORKDIR: ./pleura-demo; it is reused, data and all)
# Installs the missing Debian packages, builds the tools (reusing the build folder of scripts/test.sh),
# then: make_demo_data (600 training + 100 test DICOM files at 256x256) -> prepare_data (128x128 cache)
# -> train_unet configs/demo.ini (AlbuNet from scratch, fold 0 validates; on the GPU when there is one)
# -> infer_unet (best checkpoint, flip TTA) on the validation fold -> search_triplets on its maps
# -> infer_unet on the test set, with overlays of the best triplet's masks against the test truth
# (WORKDIR/overlays-test/index.html, printed) -> rle_submit of the test maps with the best triplet
# -> score_submission against the test truth. The last line is score_submission's JSON.
# Environment: PLEURA_BUILD_DIR (default build/), PLEURA_JOBS (default: number of cores),
# PLEURA_DEMO_DEVICE (cpu or cuda; default cuda when the build has CUDA and nvidia-smi sees a GPU),
# PLEURA_DEMO_PRECISION (fp32, the default, or bf16: training and inference with convolutions in bfloat16;
# give it its own WORKDIR, since a finished experiment in WORKDIR is kept).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PLEURA_BUILD_DIR:-$root/build}
jobs=${PLEURA_JOBS:-$(nproc)}
work=${1:-pleura-demo}
mkdir -p "$work"
work=$(cd "$work" && pwd)

step() { echo; echo "=== $*"; }

step "dependencies and build ($build)"
"$root/scripts/install-deps.sh"
if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${PLEURA_CMAKE_ARGS:-}
fi
tools=(make_demo_data prepare_data train_unet infer_unet search_triplets rle_submit score_submission)
cmake --build "$build" -j "$jobs" --target "${tools[@]}"

start=$(date +%s)
bin=$build
data=$work/data
size=128   # the network's input side; make_demo_data's images and the submission are 256x256

device=${PLEURA_DEMO_DEVICE:-}
if [ -z "$device" ]; then
  device=cpu
  if grep -q '^PLEURA_CUDNN_LIBRARY:FILEPATH=/' "$build/CMakeCache.txt" && command -v nvidia-smi >/dev/null 2>&1 \
     && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    device=cuda
  fi
fi
precision=${PLEURA_DEMO_PRECISION:-fp32}
echo "device: $device, precision: $precision"

if [ ! -f "$data/.complete" ]; then
  step "make_demo_data: 600 training and 100 test images (256x256 DICOM)"
  "$bin/make_demo_data" --out "$data" --train 600 --test 100 --size 256 --difficulty demo --overwrite
  touch "$data/.complete"
fi

step "prepare_data: ${size}x${size} caches of the training and test images"
"$bin/prepare_data" --images "$data/dicom-images-train" --labels "$data/train-rle.csv" \
  --out "$work/cache-train" --size "$size"
"$bin/prepare_data" --images "$data/dicom-images-test" --out "$work/cache-test" --size "$size"

step "train_unet configs/demo.ini (fold 0 validates)"
experiment=$work/experiment
# A finished run is kept: --resume skips its folds, and continues an interrupted one.
resume=()
[ -d "$experiment" ] && resume=(--resume)
"$bin/train_unet" "$root/configs/demo.ini" \
  --set "data.cache=$work/cache-train" --set "folds.file=$data/train_folds_5.csv" \
  --set "run.output=$experiment" --set "run.device=$device" --set "data.size=$size" \
  --set "train.precision=$precision" "${resume[@]}"

step "infer_unet: the validation fold (best checkpoint, flip TTA)"
# The validation images: fold 0 of the folds file, linked from the training cache.
valid_images=$work/valid-images
rm -rf "$valid_images"
mkdir -p "$valid_images"
awk -F, 'NR > 1 && $2 == 0 { print $1 }' "$data/train_folds_5.csv" | while read -r name; do
  ln -s "$work/cache-train/images/$name" "$valid_images/$name"
done
infer=("$bin/infer_unet" --model albunet --pipeline "$experiment" --pipeline-name albunet_demo --best --folds 0
       --size "$size" --flip --format npy --device "$device" --precision "$precision" --batch 4)
rm -rf "$work/probs-valid" "$work/probs-test" "$work/overlays-test"
"${infer[@]}" --input "$valid_images" --output "$work/probs-valid"

step "search_triplets on the validation maps (a wide grid for ${size}x${size} maps)"
"$bin/search_triplets" --probs "$work/probs-valid" --masks "$work/cache-train/masks" \
  --tops 0.3,0.4,0.5,0.6,0.7,0.8,0.9 --areas 0,50,100,150,200,250,300 --bottoms 0.1,0.2,0.3,0.4,0.5 \
  --json "$work/triplets.json" | tail -n 3
# The best triplet: "best":{"triplet":[TOP,AREA,BOTTOM],...} in the JSON.
triplet=$(sed -n 's/.*"best": *{ *"triplet": *\[\([^]]*\)\].*/\1/p' "$work/triplets.json" | tr -d ' ')
[ -n "$triplet" ] || { echo "error: no best triplet in $work/triplets.json" >&2; exit 1; }
echo "best triplet: $triplet"

step "infer_unet: the test set, and overlays of the best triplet's masks against the test truth"
# Overlays at 256x256, the labels' size, so each image's dice is the one score_submission counts.
"${infer[@]}" --input "$work/cache-test" --output "$work/probs-test" \
  --overlays "$work/overlays-test" --triplet "$triplet" --labels "$data/test-rle.csv" --label-size 256 \
  --overlay-size 256

step "rle_submit: the test maps, brought to 256x256, in SIIM RLE"
"$bin/rle_submit" --probs "$work/probs-test" --triplet "$triplet" \
  --sample-submission "$data/sample_submission.csv" --out "$work/submission.csv" --height 256 --width 256

step "score_submission against the test truth"
"$bin/score_submission" "$work/submission.csv" "$data/test-rle.csv" --height 256 --width 256 --json \
  > "$work/score.txt"
echo "demo time: $(( $(date +%s) - start )) s (build excluded)"
echo "predictions to review (worst first): $work/overlays-test/index.html"
cat "$work/score.txt"
