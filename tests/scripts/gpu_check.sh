#!/usr/bin/env bash
# Tests of the prepared GPU call on a machine without a GPU (ctest scripts.gpu_check): the plan of
# scripts/gpu-check.sh --dry-run fits 480 s, --only selects steps, unknown steps are refused, the
# bundle check accepts a bundle of these sources and refuses a stale or incomplete one, and
# scripts/gpu_check_summary.py turns made-up step outputs into summary.json with the right ratios.
# Usage: gpu_check.sh REPO_ROOT
set -euo pipefail
root=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
check=$root/scripts/gpu-check.sh

# The plan alone.
plan=$(PLEURA_DRY_RUN_NO_BUNDLE=1 "$check" --dry-run) || fail "dry run of the plan failed: $plan"
total=$(echo "$plan" | awk '$1 == "total" {print $2}')
[ -n "$total" ] && [ "$total" -le 480 ] || fail "plan total '$total' over 480 s"
for step in setup gpu-ops models tools bench-unet pytorch bench-ops memcheck racecheck; do
  echo "$plan" | grep -q "^  $step " || fail "plan lacks step $step"
done
only=$(PLEURA_DRY_RUN_NO_BUNDLE=1 "$check" --dry-run --only tools,memcheck)
[ "$(echo "$only" | awk '$1 == "total" {print $2}')" -eq $((20 + 45 + 35)) ] || fail "--only total wrong: $only"
echo "$only" | grep -q "^  gpu-ops " && fail "--only kept gpu-ops"
if "$check" --only nonsense >/dev/null 2>"$work/err"; then fail "an unknown step was accepted"; fi
grep -q "unknown step 'nonsense'" "$work/err" || fail "no message naming the unknown step"

# The bundle check, on a fake bundle.
bundle=$work/bundle
mkdir -p "$bundle/bin"
for b in pleura_tests bench_unet bench_cuda_ops train_unet infer_unet make_demo_data prepare_data; do
  printf '#!/bin/sh\n' >"$bundle/bin/$b"
  chmod +x "$bundle/bin/$b"
done
echo "arch 90" >"$bundle/build-info"
"$root/scripts/source-hash.sh" >"$bundle/source-hash"
PLEURA_GPU_BUNDLE=$bundle "$check" --dry-run >"$work/ok" 2>&1 || { cat "$work/ok"; fail "a matching bundle was refused"; }
grep -q "(match)" "$work/ok" || fail "the dry run did not report the match"
echo 0123456789abcdef >"$bundle/source-hash"
if PLEURA_GPU_BUNDLE=$bundle "$check" --dry-run >"$work/stale" 2>&1; then fail "a stale bundle was accepted"; fi
grep -q "bundle is stale" "$work/stale" || fail "no 'stale' message: $(cat "$work/stale")"
"$root/scripts/source-hash.sh" >"$bundle/source-hash"
rm "$bundle/bin/infer_unet"
if PLEURA_GPU_BUNDLE=$bundle "$check" --dry-run >"$work/lacks" 2>&1; then fail "an incomplete bundle was accepted"; fi
grep -q "lacks bin/infer_unet" "$work/lacks" || fail "no message naming the missing binary"

# The summary, from made-up outputs.
out=$work/out
mkdir -p "$out"
printf 'setup\tok\t3\t20\tprebuilt bundle\ngpu-ops\tok\t41\t70\t\ntools\ttimeout\t45\t45\t\n' >"$work/steps.tsv"
printf '[doctest] test cases:  30 |  29 passed |  1 failed |  0 skipped\n' >"$out/tests.log"
printf '========= ERROR SUMMARY: 0 errors\n' >"$out/sanitizer.log"
{
  echo '{"model": "albunet", "train_step_ms": 60.0, "train_tflops": 200.0, "infer_images_per_s": 30.0, "peak_mib": 7000}'
  echo '{"model": "albunet", "precision": "bf16", "train_step_ms": 30.0, "infer_images_per_s": 90.0,' \
    '"forward_held_by_op_mib": {"conv2d_relu/to_bf16_storage": 900.5, "batch_norm2d": 2.0}}'
  echo '{"model": "albunet", "precision": "bf16", "cuda_graphs": true, "infer_images_per_s": 40.0}'
} >"$out/bench_unet.jsonl"
cat >"$out/pytorch.json" <<'JSON'
{"header": {"torch": "2.11.0"}, "complete": true, "records": [
 {"model": "albunet", "mode": "bf16_cl", "workload": "train", "median_ms": 40.0, "peak_alloc_mib": 10000},
 {"model": "albunet", "mode": "bf16_cl", "workload": "infer", "median_ms": 100.0, "images_per_s": 60.0},
 {"model": "albunet", "mode": "bf16_cl_compile", "workload": "train", "skipped": "budget"}]}
JSON
echo '{"device": "fake", "copy_gbps": 4000, "gemm_tf32_tflops": 400, "rows": []}' >"$out/bench_cuda_ops.json"
python3 "$root/scripts/gpu_check_summary.py" "$out" "$work/steps.tsv" >"$work/table" || fail "summary failed"
grep -q "tools       timeout" "$work/table" || fail "the table lacks the timed-out step: $(cat "$work/table")"
grep -q "held by op (MiB): conv2d_relu/to_bf16_storage 900, batch_norm2d 2" "$work/table" ||
  fail "the table lacks what the bf16 forward held by op: $(cat "$work/table")"
python3 - "$out/summary.json" <<'PY' || fail "summary.json is wrong"
import json, sys
s = json.load(open(sys.argv[1]))
assert [st["step"] for st in s["steps"]] == ["setup", "gpu-ops", "tools"], s["steps"]
assert s["steps"][2]["status"] == "timeout"
assert s["tests"] == [{"cases": 30, "passed": 29, "failed": 1, "skipped": 0}], s["tests"]
r = s["ratios_to_pytorch"]["albunet"]["bf16_cl"]
assert abs(r["train_time_ratio"] - 1.5) < 1e-12, r      # 60 ms against 40 ms
assert abs(r["infer_time_ratio"] - 2.0) < 1e-12, r      # PyTorch 60 img/s against 30
assert abs(r["train_memory_ratio"] - 0.7) < 1e-12, r
assert "bf16_cl_compile" not in s["ratios_to_pytorch"]["albunet"]
# The bf16 and CUDA-graph rows have entries of their own; they do not replace the model's.
b = s["ratios_to_pytorch"]["albunet bf16"]["bf16_cl"]
assert abs(b["train_time_ratio"] - 0.75) < 1e-12 and abs(b["infer_time_ratio"] - 60 / 90) < 1e-12, b
g = s["ratios_to_pytorch"]["albunet bf16 cuda_graphs"]["bf16_cl"]
assert abs(g["infer_time_ratio"] - 1.5) < 1e-12 and "train_time_ratio" not in g, g
assert abs(s["bench_unet"][0]["train_fraction_of_tf32_gemm"] - 0.5) < 1e-12
assert s["sanitizers"] == ["========= ERROR SUMMARY: 0 errors"]
PY
echo "gpu_check: all checks passed"
