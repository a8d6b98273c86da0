#!/usr/bin/env bash
# The demo: the whole pipeline of the solution on a synthetic data set, end to end.
#   scripts/demo.sh [WORKDIR]        (default WORKDIR: ./pleura-demo; it is reused, data and all)
#   scripts/demo.sh --gpu [WORKDIR]  the GPU demo at 1024x1024 (default WORKDIR: ./pleura-demo-gpu), below
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
# give it its own WORKDIR, since a finished experiment in WORKDIR is kept),
# PLEURA_DEMO_BIN (a folder holding the seven tools, prebuilt: no package install, no build).
#
# --gpu (issue 13, "a demo worth a GPU"): the same pipeline at 1024x1024 on subtle lesions, in bf16, on
# one GPU: make_demo_data --difficulty realistic (1500 training + 200 test images at 1024x1024) ->
# prepare_data --size 1024 -> train_unet configs/demo_gpu.ini (AlbuNet from scratch, 11 epochs of batch 4)
# -> infer_unet (flip TTA, bf16) -> search_triplets -> infer_unet on the test set, with overlays ->
# rle_submit and score_submission at 1024x1024. It prints the training time (train_unet's wall time,
# and metrics.csv's seconds per epoch), the total time (build excluded), score_submission's JSON and, last,
# "targets: ... met" or "... NOT met": dice_positive >= 0.8 and training <= 300 s (the exit status is 0
# either way once the pipeline ran). Expected on one H100: ~1 min of data, ~4 min of training (an estimate
# until the first GPU run: configs/demo_gpu.ini), ~1 min of inference and scoring, plus the build.
# Without a CUDA build or a CUDA device it refuses (exit 1, naming what is missing) and writes nothing.
# The data and caches in WORKDIR are reused when WORKDIR/demo-gpu.settings says they were made with the
# same size and counts (a WORKDIR of other settings, or not empty and without that file, is refused); the
# model is trained anew on every run, since the run's time is the point.
# Environment of --gpu (PLEURA_BUILD_DIR, PLEURA_JOBS, PLEURA_DEMO_BIN as above; PLEURA_CMAKE_ARGS: options
# of a first configure, e.g. -DPLEURA_CUDA=ON):
#   PLEURA_DEMO_DEVICE     cuda (default) or cuda:N; cpu runs the same pipeline on the CPU, for tests (at
#                          1024x1024 for hours: shrink it with the next five, e.g. ctest scripts.demo_gpu's
#                          SIZE=64 TRAIN=30 TEST=10 EPOCHS=1 BATCH=2)
#   PLEURA_DEMO_SIZE       the side of the images, the network's input and the submission, a multiple of
#                          64 from 64 to 2048 (default 1024); the triplet grid's areas scale with its square
#   PLEURA_DEMO_TRAIN      training images, 25..100000 (default 1500; 25 gives every fold a positive)
#   PLEURA_DEMO_TEST       test images, 2..100000 (default 200)
#   PLEURA_DEMO_EPOCHS     epochs, also the cosine's t_max, 1..1000 (default 11)
#   PLEURA_DEMO_BATCH      training batch size, 1..64 (default 4)
#   PLEURA_DEMO_PRECISION  bf16 (default) or fp32
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PLEURA_BUILD_DIR:-$root/build}
jobs=${PLEURA_JOBS:-$(nproc)}

fail() { echo "demo.sh: error: $*" >&2; exit 1; }
gpu=0
args=()
for arg in "$@"; do
  case "$arg" in
    --gpu) gpu=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "demo.sh: error: unknown option '$arg' (expected --gpu, --help or a WORKDIR)" >&2; exit 2 ;;
    *) args+=("$arg") ;;
  esac
done
[ ${#args[@]} -le 1 ] || { echo "demo.sh: error: one WORKDIR expected, got ${#args[@]}: ${args[*]}" >&2; exit 2; }

step() { echo; echo "=== $*"; }
tools=(make_demo_data prepare_data train_unet infer_unet search_triplets rle_submit score_submission)
bin=${PLEURA_DEMO_BIN:-$build}
if [ -n "${PLEURA_DEMO_BIN:-}" ]; then
  for t in "${tools[@]}"; do
    [ -x "$bin/$t" ] || fail "PLEURA_DEMO_BIN=$bin holds no executable $t (expected the prebuilt ${tools[*]})"
  done
fi

if [ "$gpu" = 0 ]; then
  work=${args[0]:-pleura-demo}
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
else
  # --- the GPU demo's settings, checked before anything is written ---
  work=${args[0]:-pleura-demo-gpu}
  # An integer environment setting within [lo, hi], a multiple of `multiple`; else a message naming it.
  setting() {  # NAME DEFAULT LO HI [MULTIPLE]
    local name=$1 value=${!1:-$2} lo=$3 hi=$4 multiple=${5:-1} what
    what="an integer from $lo to $hi"
    [ "$multiple" -gt 1 ] && what="a multiple of $multiple from $lo to $hi"
    [[ "$value" =~ ^[0-9]{1,9}$ ]] || fail "$name is '$value': expected $what"
    local n=$((10#$value))  # decimal, whatever its leading zeros
    if [ "$n" -lt "$lo" ] || [ "$n" -gt "$hi" ] || [ $((n % multiple)) -ne 0 ]; then
      fail "$name is '$value': expected $what"
    fi
    echo "$n"
  }
  # AlbuNet halves the side six times (a multiple of 64); 2048 keeps a batch of 4 within one GPU.
  size=$(setting PLEURA_DEMO_SIZE 1024 64 2048 64)
  n_train=$(setting PLEURA_DEMO_TRAIN 1500 25 100000)
  n_test=$(setting PLEURA_DEMO_TEST 200 2 100000)
  epochs=$(setting PLEURA_DEMO_EPOCHS 11 1 1000)
  batch=$(setting PLEURA_DEMO_BATCH 4 1 64)
  precision=${PLEURA_DEMO_PRECISION:-bf16}
  [[ "$precision" == bf16 || "$precision" == fp32 ]] || fail "PLEURA_DEMO_PRECISION is '$precision': expected bf16 or fp32"
  device=${PLEURA_DEMO_DEVICE:-cuda}
  [[ "$device" =~ ^(cpu|cuda|cuda:[0-9]+)$ ]] || fail "PLEURA_DEMO_DEVICE is '$device': expected cuda, cuda:N or cpu"

  if [ "$device" != cpu ]; then
    # Both problems at once, so that one run tells everything missing.
    problems=()
    if [ -n "${PLEURA_DEMO_BIN:-}" ]; then
      ldd "$bin/train_unet" 2>/dev/null | grep -q libcudnn \
        || problems+=("no CUDA build: $bin/train_unet is not linked with cuDNN (built without CUDA)")
    elif [ -f "$build/CMakeCache.txt" ] && ! grep -q '^PLEURA_CUDNN_LIBRARY:FILEPATH=/' "$build/CMakeCache.txt"; then
      problems+=("no CUDA build: $build/CMakeCache.txt finds no cuDNN (configure with -DPLEURA_CUDA=ON where the CUDA toolkit and cuDNN are, or set PLEURA_BUILD_DIR to such a build)")
    fi  # a build folder not configured yet is checked once configured, below
    index=0
    [[ "$device" == cuda:* ]] && index=${device#cuda:}
    if ! command -v nvidia-smi >/dev/null 2>&1; then
      problems+=("no CUDA device: nvidia-smi is not installed")
    elif ! nvidia-smi -L 2>/dev/null | grep -q "^GPU $index:"; then
      said=$(nvidia-smi -L 2>&1 | head -n 1 || true)
      problems+=("no CUDA device: nvidia-smi -L lists no GPU $index${said:+ (it says: $said)}")
    fi
    if [ ${#problems[@]} -gt 0 ]; then
      for p in "${problems[@]}"; do echo "demo.sh: error: --gpu: $p" >&2; done
      fail "--gpu needs a CUDA build and a CUDA device; nothing was written (PLEURA_DEMO_DEVICE=cpu with a small PLEURA_DEMO_SIZE runs the same pipeline on the CPU, see --help)"
    fi
  fi

  # The data settings WORKDIR was made with; the data and caches are reused only under the same ones.
  settings="size=$size train=$n_train test=$n_test difficulty=realistic seed=0"
  if [ -d "$work" ]; then
    if [ -f "$work/demo-gpu.settings" ]; then
      had=$(cat "$work/demo-gpu.settings")
      [ "$had" = "$settings" ] || fail "WORKDIR $work holds a GPU demo made with '$had', this run asks for '$settings': give another WORKDIR or remove it"
    elif [ -n "$(ls -A "$work")" ]; then
      fail "WORKDIR $work is not empty and holds no GPU demo (no demo-gpu.settings): give a new or empty folder"
    fi
  elif [ -e "$work" ]; then
    fail "WORKDIR $work exists and is not a folder"
  fi
fi

step "dependencies and build ($build)"
if [ -n "${PLEURA_DEMO_BIN:-}" ]; then
  echo "prebuilt tools in $bin (PLEURA_DEMO_BIN): no install, no build"
else
  "$root/scripts/install-deps.sh"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    # shellcheck disable=SC2086
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${PLEURA_CMAKE_ARGS:-}
  fi
  if [ "$gpu" = 1 ] && [ "$device" != cpu ] && ! grep -q '^PLEURA_CUDNN_LIBRARY:FILEPATH=/' "$build/CMakeCache.txt"; then
    fail "--gpu: no CUDA build: $build, configured just now, finds no cuDNN (the CUDA toolkit and cuDNN are needed)"
  fi
  cmake --build "$build" -j "$jobs" --target "${tools[@]}"
fi

start=$(date +%s)
data=$work/data
if [ "$gpu" = 0 ]; then
  size=128   # the network's input side; make_demo_data's images and the submission are 256x256
  data_size=256
  n_train=600
  n_test=100
  difficulty=demo
  config=$root/configs/demo.ini
  areas=0,50,100,150,200,250,300
  infer_batch=4

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
else
  data_size=$size   # images, network and submission all at one side, as the solution's 1024x1024
  difficulty=realistic
  config=$root/configs/demo_gpu.ini
  # configs/demo_gpu.ini's minimum areas at 1024x1024, scaled with the square of the side (rounded).
  areas=$(for a in 0 500 1000 1500 2000 3000; do echo $(( (a * size * size + 524288) / 1048576 )); done | paste -sd,)
  infer_batch=8
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
  data=$work/data
  printf '%s\n' "$settings" >"$work/demo-gpu.settings.tmp"
  mv "$work/demo-gpu.settings.tmp" "$work/demo-gpu.settings"
  card=""
  [ "$device" != cpu ] && card=" ($(nvidia-smi --query-gpu=name --format=csv,noheader -i "${index:-0}" 2>/dev/null || true))"
  echo "device: $device$card, precision: $precision, ${size}x${size}, $n_train training and $n_test test images," \
    "epochs: $epochs, batch: $batch"
fi

if [ ! -f "$data/.complete" ]; then
  step "make_demo_data: $n_train training and $n_test test images (${data_size}x${data_size} DICOM)"
  "$bin/make_demo_data" --out "$data" --train "$n_train" --test "$n_test" --size "$data_size" \
    --difficulty "$difficulty" --overwrite
  touch "$data/.complete"
fi

step "prepare_data: ${size}x${size} caches of the training and test images"
"$bin/prepare_data" --images "$data/dicom-images-train" --labels "$data/train-rle.csv" \
  --out "$work/cache-train" --size "$size"
"$bin/prepare_data" --images "$data/dicom-images-test" --out "$work/cache-test" --size "$size"

step "train_unet ${config#"$root"/} (fold 0 validates)"
experiment=$work/experiment
train_args=()
if [ "$gpu" = 0 ]; then
  # A finished run is kept: --resume skips its folds, and continues an interrupted one.
  [ -d "$experiment" ] && train_args=(--resume)
else
  # Trained anew: the run's time is what the GPU demo shows. Workers: at most the cores there are.
  rm -rf "$experiment"
  workers=$(nproc)
  [ "$workers" -gt 12 ] && workers=12
  train_args=(--set "train.epochs=$epochs" --set "scheduler.t_max=$epochs" --set "train.early_stopping=$epochs"
              --set "train.batch_size=$batch" --set "validation.areas=$areas" --set "run.workers=$workers")
fi
train_start=$(date +%s.%N)
"$bin/train_unet" "$config" \
  --set "data.cache=$work/cache-train" --set "folds.file=$data/train_folds_5.csv" \
  --set "run.output=$experiment" --set "run.device=$device" --set "data.size=$size" \
  --set "train.precision=$precision" "${train_args[@]}"
train_seconds=$(awk -v a="$train_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

step "infer_unet: the validation fold (best checkpoint, flip TTA)"
# The validation images: fold 0 of the folds file, linked from the training cache.
valid_images=$work/valid-images
rm -rf "$valid_images"
mkdir -p "$valid_images"
awk -F, 'NR > 1 && $2 == 0 { print $1 }' "$data/train_folds_5.csv" | while read -r name; do
  ln -s "$work/cache-train/images/$name" "$valid_images/$name"
done
pipeline_name=albunet_demo
[ "$gpu" = 1 ] && pipeline_name=albunet_demo_gpu
infer=("$bin/infer_unet" --model albunet --pipeline "$experiment" --pipeline-name "$pipeline_name" --best --folds 0
       --size "$size" --flip --format npy --device "$device" --precision "$precision" --batch "$infer_batch")
rm -rf "$work/probs-valid" "$work/probs-test" "$work/overlays-test"
"${infer[@]}" --input "$valid_images" --output "$work/probs-valid"

step "search_triplets on the validation maps (a wide grid for ${size}x${size} maps)"
"$bin/search_triplets" --probs "$work/probs-valid" --masks "$work/cache-train/masks" \
  --tops 0.3,0.4,0.5,0.6,0.7,0.8,0.9 --areas "$areas" --bottoms 0.1,0.2,0.3,0.4,0.5 \
  --json "$work/triplets.json" | tail -n 3
# The best triplet: "best":{"triplet":[TOP,AREA,BOTTOM],...} in the JSON.
triplet=$(sed -n 's/.*"best": *{ *"triplet": *\[\([^]]*\)\].*/\1/p' "$work/triplets.json" | tr -d ' ')
[ -n "$triplet" ] || { echo "error: no best triplet in $work/triplets.json" >&2; exit 1; }
echo "best triplet: $triplet"

step "infer_unet: the test set, and overlays of the best triplet's masks against the test truth"
# Overlays at the labels' size, so each image's dice is the one score_submission counts.
"${infer[@]}" --input "$work/cache-test" --output "$work/probs-test" \
  --overlays "$work/overlays-test" --triplet "$triplet" --labels "$data/test-rle.csv" --label-size "$data_size" \
  --overlay-size "$data_size"

step "rle_submit: the test maps, brought to ${data_size}x${data_size}, in SIIM RLE"
"$bin/rle_submit" --probs "$work/probs-test" --triplet "$triplet" \
  --sample-submission "$data/sample_submission.csv" --out "$work/submission.csv" --height "$data_size" \
  --width "$data_size"

step "score_submission against the test truth"
"$bin/score_submission" "$work/submission.csv" "$data/test-rle.csv" --height "$data_size" --width "$data_size" \
  --json > "$work/score.txt.tmp"
mv "$work/score.txt.tmp" "$work/score.txt"
if [ "$gpu" = 0 ]; then
  echo "demo time: $(( $(date +%s) - start )) s (build excluded)"
  echo "predictions to review (worst first): $work/overlays-test/index.html"
  cat "$work/score.txt"
  exit 0
fi

# The GPU demo's account: the times, the score, and whether issue 13's targets were met.
metrics=$experiment/checkpoints/fold0/metrics.csv
echo "per epoch (${metrics#"$work"/}):"
cat "$metrics"
echo "training time: $train_seconds s (train_unet at ${size}x${size}, epochs: $epochs, batch: $batch, $device, $precision)"
echo "total time: $(( $(date +%s) - start )) s (build excluded)"
echo "predictions to review (worst first): $work/overlays-test/index.html"
cat "$work/score.txt"
dice=$(tail -n 1 "$work/score.txt" | sed -n 's/.*"dice_positive": *\([-0-9.eE+]*\).*/\1/p')
[ -n "$dice" ] || fail "no dice_positive in the last line of $work/score.txt"
verdict() { awk -v v="$1" -v lim="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? v >= lim : v <= lim; print ok ? "met" : "NOT met" }'; }
dice_ok=$(verdict "$dice" 0.8 ">=")
time_ok=$(verdict "$train_seconds" 300 "<=")
overall="met"
[ "$dice_ok" = met ] && [ "$time_ok" = met ] || overall="NOT met"
echo "targets: dice_positive $dice >= 0.8 $dice_ok, training $train_seconds s <= 300 s $time_ok: $overall"
