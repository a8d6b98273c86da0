#!/usr/bin/env bash
# ctest bench.pytorch_baseline: the PyTorch baseline of the GPU check (bench/reference/) has Pleura's
# models. For each UNet, bench_unet --state-dict and pleura_unets.py --dump-parameters must list the same
# names, shapes and counts (compare_state_dicts.py, up to the registry's aliases and optional keys); then
# pytorch_gpu_bench.py and bench_unet run once on the CPU at 64x64 and their real JSON goes through
# scripts/gpu_check_summary.py, which must find Pleura/PyTorch ratios for both workloads. Needs a Python with
# PyTorch (python3-torch; scripts/install-deps.sh installs it when PLEURA_INSTALL_TORCH=1): without one it
# exits 77, which ctest reports as skipped.
# Usage: pytorch_names.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
ref=$src/bench/reference

python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "skipped: no python3 with PyTorch (install python3-torch, or run with PLEURA_INSTALL_TORCH=1)"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out"
for model in albunet resnet50_unet scse_unet; do
  "$build/bench/bench_unet" --model "$model" --state-dict >"$work/pleura_$model.txt"
  "$python" "$ref/pleura_unets.py" --dump-parameters "$model" >"$work/torch_$model.txt"
  echo "$model: $("$python" "$ref/compare_state_dicts.py" "$work/pleura_$model.txt" "$work/torch_$model.txt" | tail -n 1)"
  "$python" "$ref/compare_state_dicts.py" "$work/pleura_$model.txt" "$work/torch_$model.txt" >/dev/null
done

"$python" "$ref/pytorch_gpu_bench.py" --device cpu --size 64 --train-batch 1 --infer-batch 1 --models albunet \
  --modes fp32,bf16_cl --warmup 0 --steps 1 --json "$work/out/pytorch.json" >"$work/bench.log" 2>&1 ||
  { cat "$work/bench.log"; exit 1; }
"$build/bench/bench_unet" --model albunet --size 64 --batch 1 --infer-batch 1 --flip --steps 1 --warmup 0 --json |
  grep -E '^\{' >"$work/out/bench_unet.jsonl"
printf 'bench-unet\tok\t1\t65\t\npytorch\tok\t1\t115\t\n' >"$work/steps.tsv"
"$python" "$src/scripts/gpu_check_summary.py" "$work/out" "$work/steps.tsv" >/dev/null
"$python" - "$work/out/pytorch.json" "$work/out/summary.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["complete"], "the run did not complete"
rows = doc["records"]
seen = {(r["model"], r["mode"], r["workload"]) for r in rows}
for mode in ("fp32", "bf16_cl"):
    for workload in ("train", "infer"):
        assert ("albunet", mode, workload) in seen, f"no record of albunet {mode} {workload}: {sorted(seen)}"
for r in rows:
    assert r["median_ms"] > 0 and r["images_per_s"] > 0, r
summary = json.load(open(sys.argv[2]))
text = json.dumps(summary)
for key in ("train_time_ratio", "infer_time_ratio"):
    assert key in text, f"summary.json has no {key}: {text[:2000]}"
print(f"pytorch_gpu_bench.py and bench_unet on the CPU: {len(rows)} PyTorch records, ratios in summary.json")
PY
