"""PyTorch GPU baseline for Pleura: times the three UNets of pleura_unets.py on one card in one call.

Needs nothing but PyTorch (pleura_unets.py sits beside this file).

  python3 pytorch_gpu_bench.py [--json FILE] [--budget-s S] [--models albunet,...] [--modes bf16_cl,...]
  CPU smoke test:
  python3 pytorch_gpu_bench.py --device cpu --size 64 --train-batch 1 --infer-batch 1 \\
      --modes fp32,bf16_cl --warmup 1 --steps 1

Workloads, on random normal images and random binary masks (fixed seed), 1024x1024 by default:
  train  forward, ComboLoss (the model's config weights), backward, gradient clipping to norm 0.1, Adam
         (lr 1e-4, weight decay 5e-6), zero_grad(set_to_none=True); batch 4. The step of Pleura's bench_unet.
  infer  eval mode under torch.inference_mode, flip TTA: the mean of sigmoid(f(x)) and of the flipped-back
         sigmoid(f(flip(x))); batch 8; images/s counts input images (two forwards each).
Modes, all with cudnn.benchmark on:
  fp32             float32, TF32 off (cuBLAS and cuDNN)
  tf32             float32, TF32 on
  bf16_cl          autocast to bfloat16, model and inputs channels_last (TF32 on for what stays float32)
  bf16_cl_compile  bf16_cl with the model under torch.compile (default mode), where torch.compile exists
On the CPU the TF32 switches change nothing and peak memory is null.

Each configuration (model, mode, workload) builds a fresh model (seed 0), runs --warmup steps (cudnn.benchmark
autotunes and torch.compile compiles in the first), then --steps steps, each between two CUDA events; it
reports the median, min and max step time, the first step's wall time and the peak memory
(torch.cuda.max_memory_allocated / max_memory_reserved since a reset at its start). Configurations run in
order of value: bf16_cl, tf32 and fp32 for every model, then bf16_cl_compile. --budget-s bounds the wall
time of the whole run, counted from the start of the process: a configuration that cannot finish in time is
stopped (by a SIGALRM) or not started, and it and all that follow are reported as {"skipped": "budget"}.

Output: one JSON line per configuration on stdout as it finishes ({"error": ...} on failure), then a short
table. --json FILE also writes {"header": ..., "records": [...], "complete": bool} after every
configuration (FILE.tmp, then renamed).
"""
import time

PROCESS_START = time.monotonic()  # the budget counts from here, before torch's import

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pleura_unets  # noqa: E402

MODE_ORDER = ("bf16_cl", "tf32", "fp32", "bf16_cl_compile")
WORKLOADS = ("train", "infer")
GRAD_CLIP = 0.1
ADAM = {"lr": 1e-4, "weight_decay": 5e-6}

# torch >= 2.9 warns that allow_tf32 will go. Its replacement (fp32_precision) is not used: torch 1.13 lacks
# it, and torch.compile of 2.9-2.10 can fail on a mix of the two APIs (pytorch/pytorch issue 166387).
warnings.filterwarnings("ignore", message=".*new API settings to control TF32.*")


class BudgetExceeded(BaseException):
    """The run's wall-clock budget is spent (raised by SIGALRM; a BaseException so nothing swallows it)."""


# ---------------------------------------------------------------- setup

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--size", type=int, default=1024, help="image height and width, a multiple of 64")
    p.add_argument("--train-batch", type=int, default=4)
    p.add_argument("--infer-batch", type=int, default=8)
    p.add_argument("--models", default=",".join(pleura_unets.MODEL_NAMES))
    p.add_argument("--modes", default=",".join(MODE_ORDER))
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per configuration (default 3)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per configuration (default 10)")
    p.add_argument("--budget-s", type=float, default=150.0,
                   help="wall-clock budget of the whole run in seconds, 0 for none (default 150)")
    p.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads)")
    p.add_argument("--json", metavar="FILE", help="also write every record, with a header, to FILE")
    args = p.parse_args(argv)
    args.models = split_choices(p, "--models", args.models, pleura_unets.MODEL_NAMES)
    args.modes = split_choices(p, "--modes", args.modes, MODE_ORDER)
    args.workloads = split_choices(p, "--workloads", args.workloads, WORKLOADS)
    if args.size <= 0 or args.size % 64:
        p.error("--size must be a positive multiple of 64 (AlbuNet pools six times)")
    if min(args.train_batch, args.infer_batch, args.steps) < 1 or args.warmup < 0:
        p.error("batches and --steps must be >= 1, --warmup >= 0")
    return args


def split_choices(parser, option, text, allowed):
    items = [s for s in text.split(",") if s]
    unknown = [s for s in items if s not in allowed]
    if unknown or not items:
        parser.error(f"{option}: {', '.join(unknown) or 'nothing given'} (choose from {', '.join(allowed)})")
    return items


def header_record(device):
    header = {"torch": torch.__version__, "python": platform.python_version(), "device_type": device.type,
              "cudnn_benchmark": True, "tf32_api": "allow_tf32"}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        header.update(device=torch.cuda.get_device_name(device), capability=f"{props.major}.{props.minor}",
                      memory_mib=round(props.total_memory / 2**20), cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version())
    else:
        header.update(device=platform.processor() or platform.machine(), threads=torch.get_num_threads())
    return header


def set_precision(mode):
    """cudnn.benchmark on; TF32 off for fp32 only. Returns the TF32 state as read back (None if unreadable)."""
    torch.backends.cudnn.benchmark = True
    tf32 = mode != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        return bool(torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32)
    except RuntimeError:
        return None


def autocast_context(mode, device):
    if not mode.startswith("bf16"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def unavailable_reason(mode, device):
    """Why a mode cannot run here, or None."""
    if mode.startswith("bf16") and not hasattr(torch, "autocast"):
        return "torch.autocast not available"
    if mode.startswith("bf16") and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "bfloat16 not supported by this GPU"
    if mode.endswith("compile") and not hasattr(torch, "compile"):
        return "torch.compile not available"
    return None


def make_inputs(batch, size, with_masks, channels_last, device):
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(batch, 3, size, size, generator=gen)
    y = (torch.rand(batch, 1, size, size, generator=gen) < 0.3).float() if with_masks else None
    x = x.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, (y.to(device) if y is not None else None)


# ---------------------------------------------------------------- workloads

def build(model_name, mode, device):
    """(model, callable model) for a mode: seed 0, channels_last and torch.compile where the mode says."""
    torch.manual_seed(0)
    model = pleura_unets.make_model(model_name).to(device)
    if mode.startswith("bf16"):
        model = model.to(memory_format=torch.channels_last)
    fn = torch.compile(model) if mode.endswith("compile") else model
    return model, fn


def train_step_fn(model_name, mode, device, args):
    model, fn = build(model_name, mode, device)
    model.train()
    x, y = make_inputs(args.train_batch, args.size, True, mode.startswith("bf16"), device)
    criterion = pleura_unets.ComboLoss(*pleura_unets.LOSS_WEIGHTS[model_name])
    optimizer = torch.optim.Adam(model.parameters(), **ADAM)
    params = list(model.parameters())

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast_context(mode, device):
            logits = fn(x)
        loss = criterion(logits, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        optimizer.step()
        return loss.detach()

    return step


def infer_step_fn(model_name, mode, device, args):
    model, fn = build(model_name, mode, device)
    model.eval()
    x, _ = make_inputs(args.infer_batch, args.size, False, mode.startswith("bf16"), device)

    def step():
        with torch.inference_mode(), autocast_context(mode, device):
            probs = torch.sigmoid(fn(x).float())
            flipped = torch.sigmoid(fn(torch.flip(x, dims=[3])).float())
            return (probs + torch.flip(flipped, dims=[3])) * 0.5

    return step


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, device, warmup, steps):
    """(first warm-up step wall ms or None, [timed step ms], last step's result)."""
    first_ms = None
    result = None
    for i in range(warmup):
        t = time.perf_counter()
        result = step()
        synchronize(device)
        if i == 0:
            first_ms = (time.perf_counter() - t) * 1e3
    times = []
    if device.type == "cuda":
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(steps)]
        for start, end in events:
            start.record()
            result = step()
            end.record()
        synchronize(device)
        times = [start.elapsed_time(end) for start, end in events]
    else:
        for _ in range(steps):
            t = time.perf_counter()
            result = step()
            times.append((time.perf_counter() - t) * 1e3)
    return first_ms, times, result


def run_config(model_name, mode, workload, device, args):
    """Measures one configuration; returns the fields of its record."""
    tf32 = set_precision(mode)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    make_step = train_step_fn if workload == "train" else infer_step_fn
    step = make_step(model_name, mode, device, args)
    first_ms, times, result = time_steps(step, device, args.warmup, args.steps)
    batch = args.train_batch if workload == "train" else args.infer_batch
    median = statistics.median(times)
    fields = {"median_ms": round(median, 3), "min_ms": round(min(times), 3), "max_ms": round(max(times), 3),
              "first_step_ms": None if first_ms is None else round(first_ms, 1),
              "images_per_s": round(batch / (median / 1e3), 3), "tf32": tf32,
              "peak_alloc_mib": None, "peak_reserved_mib": None}
    if workload == "train":
        fields["loss_last"] = float(result)
    else:
        fields["prob_mean_last"] = float(result.mean())
    if device.type == "cuda":
        fields["peak_alloc_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        fields["peak_reserved_mib"] = round(torch.cuda.max_memory_reserved(device) / 2**20, 1)
    return fields


# ---------------------------------------------------------------- budget and bookkeeping

def on_alarm(signum, frame):
    raise BudgetExceeded()


@contextlib.contextmanager
def alarm_after(seconds):
    """Raises BudgetExceeded in the main thread after seconds (no limit if None or without SIGALRM)."""
    if seconds is None or not hasattr(signal, "setitimer"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def release_memory(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if hasattr(torch, "_dynamo"):
        try:
            torch._dynamo.reset()
        except Exception as exc:  # after a compile stopped midway; the next run reports its own state
            print(f"pytorch_gpu_bench: torch._dynamo.reset() failed: {error_text(exc)}", file=sys.stderr)


def estimate_s(records, model_name, workload):
    """A lower bound of a configuration's wall time: the fastest finished one of the same model and workload
    (eager modes only; a compiled run also compiles)."""
    walls = [r["wall_s"] for r in records
             if r["model"] == model_name and r["workload"] == workload and "median_ms" in r
             and not r["mode"].endswith("compile")]
    return min(walls) if walls else 0.0


def write_json(path, header, records, complete):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"header": header, "records": records, "complete": complete}, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def error_text(exc):
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 600 else text[:600] + " ..."


def measure(model_name, mode, workload, device, args, remaining):
    """run_config under the budget alarm: its fields, an error or a budget stop, and the wall time."""
    started = time.monotonic()
    try:
        with alarm_after(remaining):
            fields = run_config(model_name, mode, workload, device, args)
    except BudgetExceeded:
        fields = {"skipped": "budget", "stopped_after_s": round(time.monotonic() - started, 1)}
    except Exception as exc:  # one failed configuration must not end the run
        fields = {"error": error_text(exc)}
    fields["wall_s"] = round(time.monotonic() - started, 2)
    release_memory(device)
    return fields


def run_all(args, device, header):
    deadline = PROCESS_START + args.budget_s if args.budget_s > 0 else None
    configs = [(model, mode, workload) for mode in MODE_ORDER if mode in args.modes
               for model in args.models for workload in args.workloads]
    records = []
    budget_spent = False
    for model_name, mode, workload in configs:
        record = {"model": model_name, "mode": mode, "workload": workload, "size": args.size,
                  "batch": args.train_batch if workload == "train" else args.infer_batch,
                  "steps": args.steps, "warmup": args.warmup,
                  "torch": header["torch"], "device": header["device"]}
        remaining = None if deadline is None else deadline - time.monotonic()
        too_late = remaining is not None and remaining <= estimate_s(records, model_name, workload)
        reason = unavailable_reason(mode, device) or ("budget" if budget_spent or too_late else None)
        if reason:
            record["skipped"] = reason
        else:
            record.update(measure(model_name, mode, workload, device, args, remaining))
        budget_spent = budget_spent or record.get("skipped") == "budget"
        records.append(record)
        print(json.dumps(record), flush=True)
        if args.json:
            write_json(args.json, header, records, complete=False)
    return records


def summary_table(records, models, modes):
    """Model x mode: train median ms, infer images/s, the larger peak allocation of the two."""
    def cell(r, key, fmt):
        if r is None:
            return "-"
        if "skipped" in r:
            return "skip"
        if "error" in r:
            return "error"
        return fmt.format(r[key]) if r.get(key) is not None else "-"

    lines = [f"{'model':<15}{'mode':<17}{'train ms':>10}{'infer img/s':>13}{'peak MiB':>10}"]
    for model in models:
        for mode in [m for m in MODE_ORDER if m in modes]:
            got = {r["workload"]: r for r in records if r["model"] == model and r["mode"] == mode}
            peaks = [r["peak_alloc_mib"] for r in got.values() if r.get("peak_alloc_mib") is not None]
            lines.append(f"{model:<15}{mode:<17}{cell(got.get('train'), 'median_ms', '{:.1f}'):>10}"
                         f"{cell(got.get('infer'), 'images_per_s', '{:.2f}'):>13}"
                         f"{(f'{max(peaks):.0f}' if peaks else '-'):>10}")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("pytorch_gpu_bench: CUDA is not available (use --device cpu for a smoke test)")
    header = header_record(device)
    header["args"] = vars(args)
    records = run_all(args, device, header)
    if args.json:
        write_json(args.json, header, records, complete=True)
    print(summary_table(records, args.models, args.modes), flush=True)
    if any(r["mode"].endswith("compile") and "wall_s" in r for r in records):
        # Everything is written; skip the interpreter's shutdown, which can wait on torch.compile's worker
        # processes (for instance after a compile stopped by the budget).
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
