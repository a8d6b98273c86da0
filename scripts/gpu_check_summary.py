"""Summary of one scripts/gpu-check.sh run: reads what the steps left in OUT and writes OUT/summary.json,
then prints a short table (the end of the device's reply). Plain Python 3, no packages.

    python3 scripts/gpu_check_summary.py OUT STEPS_TSV

STEPS_TSV holds one line per step: name, status, seconds, timeout, detail (tab-separated).
Tested on the CPU by tests/scripts/test_gpu_check.sh with made-up step outputs.
"""
import json
import os
import re
import sys

MODELS = ("albunet", "resnet50_unet", "scse_unet")
PYTORCH_MODES = ("fp32", "tf32", "bf16_cl", "bf16_cl_compile")


def read_steps(path):
    steps = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 4:
                steps.append({"step": parts[0], "status": parts[1], "seconds": int(parts[2]),
                              "timeout_s": int(parts[3]), "detail": parts[4] if len(parts) > 4 else ""})
    return steps


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_json_lines(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


def doctest_totals(path):
    """The doctest summary lines of tests.log: one per pleura_tests run."""
    totals = []
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            for line in f:
                m = re.search(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed\s*\|\s*(\d+) skipped", line)
                if m:
                    totals.append(dict(zip(("cases", "passed", "failed", "skipped"), map(int, m.groups()))))
    return totals


def sanitizer_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return [line.strip() for line in f if "ERROR SUMMARY" in line or "RACECHECK SUMMARY" in line]


def pytorch_records(doc):
    """{(model, mode, workload): record} of the PyTorch baseline's measured records."""
    out = {}
    for r in (doc or {}).get("records", []):
        if "median_ms" in r:
            out[(r.get("model"), r.get("mode"), r.get("workload"))] = r
    return out


def row_label(row):
    """A bench_unet row's name: the model, its precision when not fp32, and whether CUDA graphs ran."""
    precision = row.get("precision", "fp32")
    return (row.get("model", "?") + ("" if precision == "fp32" else " " + precision)
            + (" cuda_graphs" if row.get("cuda_graphs") else ""))


def ratios(pleura_rows, torch_records):
    """Pleura's training-step time over PyTorch's, and PyTorch's images/s over Pleura's, per model and mode
    (below 1: Pleura is faster)."""
    table = {}
    for row in pleura_rows:
        model = row.get("model")
        label = row_label(row)
        for mode in PYTORCH_MODES:
            entry = {}
            train = torch_records.get((model, mode, "train"))
            if train and row.get("train_step_ms"):
                entry["train_time_ratio"] = row["train_step_ms"] / train["median_ms"]
            infer = torch_records.get((model, mode, "infer"))
            if infer and row.get("infer_images_per_s"):
                entry["infer_time_ratio"] = infer["images_per_s"] / row["infer_images_per_s"]
            if train and train.get("peak_alloc_mib") and row.get("peak_mib"):
                entry["train_memory_ratio"] = row["peak_mib"] / train["peak_alloc_mib"]
            if entry:
                table.setdefault(label, {})[mode] = entry
    return table


def summarise(out_dir, steps_path):
    ops = load_json(os.path.join(out_dir, "bench_cuda_ops.json"))
    pleura = load_json_lines(os.path.join(out_dir, "bench_unet.jsonl"))
    torch_doc = load_json(os.path.join(out_dir, "pytorch.json"))
    gemm = (ops or {}).get("gemm_tf32_tflops")
    for row in pleura:
        if gemm and row.get("train_tflops"):
            row["train_fraction_of_tf32_gemm"] = row["train_tflops"] / gemm
    return {
        "steps": read_steps(steps_path),
        "tests": doctest_totals(os.path.join(out_dir, "tests.log")),
        "sanitizers": sanitizer_lines(os.path.join(out_dir, "sanitizer.log")),
        "bench_unet": pleura,
        "pytorch_header": (torch_doc or {}).get("header"),
        "pytorch": (torch_doc or {}).get("records", []),
        "ratios_to_pytorch": ratios(pleura, pytorch_records(torch_doc)),
        "bench_cuda_ops": {k: v for k, v in (ops or {}).items() if k != "rows"},
    }


def fmt(value, spec):
    return format(value, spec) if isinstance(value, (int, float)) else "-"


def print_table(s):
    print("================ gpu-check summary ================")
    for st in s["steps"]:
        print(f"{st['step']:<11} {st['status']:<16} {st['seconds']:>4} s of {st['timeout_s']}")
    for t in s["tests"]:
        print(f"doctest: {t['cases']} cases, {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped")
    for line in s["sanitizers"]:
        print(line)
    for row in s["bench_unet"]:
        label = row_label(row)
        print(f"pleura {label:<24} train {fmt(row.get('train_step_ms'), '.1f')} ms "
              f"({fmt(row.get('train_tflops'), '.0f')} TFLOP/s), infer {fmt(row.get('infer_images_per_s'), '.1f')} img/s, "
              f"peak {fmt(row.get('peak_mib'), '.0f')} MiB "
              f"(held for backward {fmt(row.get('forward_held_mib'), '.0f')}), "
              f"syncs/step {row.get('host_syncs_per_step', '-')}, "
              f"launches/step {row.get('device_operations_per_step', '-')}")
        held = row.get("forward_held_by_op_mib")
        if isinstance(held, dict) and held:
            top = sorted(held.items(), key=lambda kv: -kv[1])[:4]
            print("    held by op (MiB): " + ", ".join(f"{op} {fmt(mib, '.0f')}" for op, mib in top))
    for model, modes in s["ratios_to_pytorch"].items():
        cells = ", ".join(f"{mode} {fmt(r.get('train_time_ratio'), '.2f')}/{fmt(r.get('infer_time_ratio'), '.2f')}"
                          for mode, r in modes.items())
        print(f"pleura/pytorch time {model:<24} (train/infer): {cells}")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gpu_check_summary.py OUT STEPS_TSV")
    out_dir, steps_path = sys.argv[1], sys.argv[2]
    summary = summarise(out_dir, steps_path)
    path = os.path.join(out_dir, "summary.json")
    with open(path + ".tmp", "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(path + ".tmp", path)
    print_table(summary)


if __name__ == "__main__":
    main()
