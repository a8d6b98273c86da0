"""CPU inference of the three UNets against what a CPU user would run instead: PyTorch and ONNX Runtime.

  python3 cpu_infer_bench.py --bench-unet BUILD/bench/bench_unet [--size 1024] [--threads 2] [--rounds 3]
                             [--models albunet,resnet50_unet,scse_unet] [--json FILE]

One image at SIZE x SIZE with flip TTA (two forwards, sigmoid, the flipped map flipped back, the two
averaged), as infer_unet --flip computes it, by
  pleura       bench_unet --infer-only --flip --infer-batch 1 (the engine's own inference path: batch
               norms folded, Winograd F(4x4,3x3) where infer_unet takes it)
  pytorch      the model of pleura_unets.py in eval mode under no_grad, torch.set_num_threads(THREADS)
  onnxruntime  the same model and weights exported to ONNX (opset 13), CPUExecutionProvider,
               intra_op_num_threads THREADS, all graph optimisations
Every measurement is a fresh process (one warm-up forward pair, then one timed), so each one's peak
resident memory (ru_maxrss of the child, from wait4) is its own; the three take turns round by round, in
a rotating order, so drift on a shared machine falls on all of them. Prints per model the median and range
of each, its peak memory, and Pleura's ratio to each (time and memory); --json writes them.

Needs torch and onnxruntime (pip install onnxruntime onnx; with Debian's python3-torch, in a venv made with
--system-site-packages). The weights are random (pleura_unets.py's initialisation): timing does not
depend on them, and PyTorch and ONNX Runtime run the same ones.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child_pytorch(model_name, size, threads):
    import torch

    sys.path.insert(0, HERE)
    import pleura_unets

    torch.set_num_threads(threads)
    model = pleura_unets.make_model(model_name).eval()
    x = torch.rand(1, 3, size, size)

    def infer():
        with torch.no_grad():
            p = torch.sigmoid(model(x))
            q = torch.sigmoid(model(torch.flip(x, dims=[3])))
            return (p + torch.flip(q, dims=[3])) / 2

    infer()
    start = time.perf_counter()
    infer()
    return time.perf_counter() - start


def child_onnxruntime(onnx_path, size, threads):
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).random((1, 3, size, size), dtype=np.float32)

    def infer():
        p = 1 / (1 + np.exp(-session.run(None, {"x": x})[0]))
        q = 1 / (1 + np.exp(-session.run(None, {"x": np.ascontiguousarray(x[..., ::-1])})[0]))
        return (p + q[..., ::-1]) / 2

    infer()
    start = time.perf_counter()
    infer()
    return time.perf_counter() - start


def export_onnx(model_name, size, path):
    import torch

    sys.path.insert(0, HERE)
    import pleura_unets

    torch.manual_seed(0)
    model = pleura_unets.make_model(model_name).eval()
    torch.onnx.export(model, torch.rand(1, 3, size, size), path, opset_version=13, input_names=["x"],
                      output_names=["y"])


def measure(argv):
    """The child's standard output, and its peak resident memory in MiB."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait4 gives this child's own rusage; read the pipes first so that it cannot block on them.
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err[-2000:]}")
    return out, usage.ru_maxrss / 1024.0


def pleura_seconds(out):
    line = out.strip().splitlines()[-1]
    return json.loads(line)["infer_ms"] / 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench-unet", required=True, help="path of Pleura's bench_unet")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default="albunet,resnet50_unet,scse_unet")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--child", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, what = args.child[0], args.child[1]
        if kind == "export":
            export_onnx(what, args.size, args.child[2])
        else:
            seconds = child_pytorch(what, args.size, args.threads) if kind == "pytorch" else \
                child_onnxruntime(what, args.size, args.threads)
            print(seconds)
        return 0

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            onnx_path = os.path.join(tmp, model + ".onnx")
            me = [sys.executable, os.path.abspath(__file__), "--size", str(args.size), "--threads", str(args.threads),
                  "--bench-unet", args.bench_unet]
            # In a child: this process stays small, and its size is what every child starts from in ru_maxrss.
            measure(me + ["--child", "export", model, onnx_path])
            commands = {
                "pleura": [args.bench_unet, "--model", model, "--size", str(args.size), "--infer-only", "--flip",
                           "--infer-batch", "1", "--steps", "1", "--warmup", "1", "--threads", str(args.threads),
                           "--json"],
                "pytorch": me + ["--child", "pytorch", model],
                "onnxruntime": me + ["--child", "onnxruntime", onnx_path],
            }
            times = {k: [] for k in commands}
            memory = {k: [] for k in commands}
            order = list(commands)
            for r in range(args.rounds):
                for kind in order[r % 3:] + order[:r % 3]:
                    out, rss_mib = measure(commands[kind])
                    seconds = pleura_seconds(out) if kind == "pleura" else float(out.strip().splitlines()[-1])
                    times[kind].append(seconds)
                    memory[kind].append(rss_mib)
                    print(f"  {model} round {r + 1}: {kind} {seconds:.2f} s, peak {rss_mib:.0f} MiB", flush=True)
            row = {"model": model, "size": args.size, "threads": args.threads, "rounds": args.rounds}
            for kind in commands:
                row[kind] = {"median_s": statistics.median(times[kind]), "min_s": min(times[kind]),
                             "max_s": max(times[kind]), "peak_rss_mib": max(memory[kind])}
            for kind in ("pytorch", "onnxruntime"):
                row[f"time_ratio_to_{kind}"] = row["pleura"]["median_s"] / row[kind]["median_s"]
                row[f"memory_ratio_to_{kind}"] = row["pleura"]["peak_rss_mib"] / row[kind]["peak_rss_mib"]
            results.append(row)
            print(f"{model} at {args.size}x{args.size}, flip TTA, {args.threads} threads: " + ", ".join(
                f"{k} {row[k]['median_s']:.2f} s ({row[k]['min_s']:.2f}-{row[k]['max_s']:.2f}), "
                f"{row[k]['peak_rss_mib']:.0f} MiB" for k in commands) +
                f"; Pleura / PyTorch {row['time_ratio_to_pytorch']:.2f}x time, "
                f"{row['memory_ratio_to_pytorch']:.2f}x memory; Pleura / ONNX Runtime "
                f"{row['time_ratio_to_onnxruntime']:.2f}x time, {row['memory_ratio_to_onnxruntime']:.2f}x memory",
                flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
