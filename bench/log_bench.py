"""Benchmark of the event log against JSONL, W&B offline and TensorBoard, in one run.

    python bench/log_bench.py [--steps 100000] [--client-steps 5000]

Prints one Markdown table (and the machine) to paste into bench/RESULTS.md. Every number
comes from this run; ratios compare rows measured side by side on the same machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ol.producer import Run
from ol.store.log.reader import LogReader
from ol.store.log.writer import LogWriter
from ol.store.read.arrow import read_run

SCALARS = 8


def synthetic(n: int, noisy: bool, seed: int = 0) -> list[dict[str, float]]:
    """8 scalars per step. Noisy: float32 losses with noise, as real training logs them.
    Smooth: the same curves without noise (still float32-valued where real metrics are)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    noise = (lambda scale: rng.normal(0, scale, n)) if noisy else (lambda scale: np.zeros(n))
    f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731 - values from float32 tensors
    cols = {
        "loss": f32(2.5 * np.exp(-t / (n / 5)) + 0.05 + np.abs(noise(0.05))),
        "lr": 1e-3 * 0.5 * (1 + np.cos(np.pi * t / n)),  # a Python-float schedule: full float64
        "acc": f32(np.clip(1 - np.exp(-t / (n / 8)) + noise(0.01), 0, 1)),
        "grad_norm": f32(1.0 + 0.5 * np.exp(-t / (n / 3)) + np.abs(noise(0.2))),
        "weight_norm": f32(30 + t / n * 5 + noise(0.001)),
        "throughput": f32(12000 + noise(300)) if noisy else np.full(n, 12000.0),
        "update_ratio": f32(1e-3 * np.exp(-t / n) * (1 + noise(0.1))),
        "val_loss": f32(2.6 * np.exp(-t / (n / 4)) + 0.1 + np.abs(noise(0.02))),
    }
    names = list(cols)
    rows = np.stack([cols[k] for k in names], axis=1).tolist()
    return [dict(zip(names, r, strict=True)) for r in rows]


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100 * len(values)))]


def time_calls(call, rows, warmup=2000):
    """Per-call ns of `call(i, row)`, timer overhead subtracted."""
    for i in range(min(warmup, len(rows))):
        call(i, rows[i])
    overhead = statistics.median(_timer_overhead() for _ in range(5))
    samples = []
    clock = time.perf_counter_ns
    for i, row in enumerate(rows):
        t0 = clock()
        call(i, row)
        samples.append(clock() - t0 - overhead)
    return samples


def _timer_overhead():
    clock = time.perf_counter_ns
    samples = []
    for _ in range(2000):
        t0 = clock()
        samples.append(clock() - t0)
    return statistics.median(samples)


def bench_ol(tmp: Path, rows) -> dict:
    out = {}
    with Run.start(store=tmp / "ol-calls", experiment="bench") as run:
        samples = time_calls(lambda i, r: run.log(r, step=i), rows)
    out["median_us"] = statistics.median(samples) / 1e3
    out["p99_us"] = percentile(samples, 99) / 1e3
    # sustained: log as fast as possible, including the time to drain and close
    t0 = time.perf_counter()
    with Run.start(store=tmp / "ol-sustained", experiment="bench") as run:
        for i, r in enumerate(rows):
            run.log(r, step=i)
    out["points_per_s"] = len(rows) * SCALARS / (time.perf_counter() - t0)
    out["bytes_per_point_live"] = _dir_bytes(run.dir / "log") / (len(rows) * SCALARS)
    return out


def bench_floor(tmp: Path, rows) -> tuple[float, float]:
    """(log(), the floor loop) median µs, both building their values' dict in the call as a training loop
    does: the floor is the least a recorder's call can do (a timestamp and a deque append of a copy);
    log() adds checking and normalising its input."""
    queue = collections.deque()
    floor = time_calls(lambda i, r: queue.append((i, None, time.monotonic_ns(), dict(dict(r)))), rows)
    with Run.start(store=tmp / "ol-floor", experiment="bench") as run:
        ours = time_calls(lambda i, r: run.log(dict(r), step=i), rows)
    return statistics.median(ours) / 1e3, statistics.median(floor) / 1e3


def bytes_per_point(tmp: Path, rows, name: str, frame_steps: int = 1000) -> float:
    """Frames of 1,000 steps, as a 5,000 steps/s loop with the 0.2 s flush interval writes them."""
    log = tmp / name / "log"
    writer = LogWriter.create(log, name)
    for start in range(0, len(rows), frame_steps):
        writer.append([(i, 0, i * 2e-4, rows[i]) for i in range(start, min(len(rows), start + frame_steps))])
    writer.close()
    return _dir_bytes(log) / (len(rows) * SCALARS)


def decode_speeds(log: Path, n_points: int) -> tuple[float, float]:
    read_run(log)  # once untimed: the first call imports pyarrow's compute kernels, not a cost per log
    t0 = time.perf_counter()
    count = sum(1 for _ in LogReader(log).events())
    py = n_points / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    table = read_run(log).steps
    arrow = n_points / (time.perf_counter() - t0)
    assert table.num_rows == count, "arrow and event readers disagree"
    return py, arrow


def follow_latency(tmp: Path, flush: float, seconds: float = 4.0) -> list[float]:
    code = f"""
import time
from ol.producer import Run
with Run.start(store={str(tmp)!r}, experiment="follow", run_id="f", flush_interval={flush}) as run:
    print("ready", flush=True)
    end = time.time() + {seconds}
    i = 0
    while time.time() < end:
        run.log({{"wall": time.time()}}, step=i); i += 1
        time.sleep(0.001)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    reader = LogReader(tmp / "follow" / "f" / "log")
    lat, done = [], []
    for _, ev in reader.follow(lambda: bool(done) or proc.poll() is not None, poll_interval=0.01):
        if getattr(ev, "extra", None) and "wall" in ev.extra:
            lat.append(time.time() - ev.extra["wall"])
        if type(ev).__name__ == "RunEnded":
            done.append(1)
    proc.wait()
    return lat


def bench_jsonl(tmp: Path, rows) -> dict:
    path = tmp / "run.jsonl"
    with open(path, "a") as f:
        def call(i, r):
            f.write(json.dumps({"step": i, **r}) + "\n")
        samples = time_calls(call, rows)
    t0 = time.perf_counter()
    with open(path) as f:
        n = sum(len(json.loads(line)) - 1 for line in f)
    return {"median_us": statistics.median(samples) / 1e3, "p99_us": percentile(samples, 99) / 1e3,
            "bytes_per_point": path.stat().st_size / ((len(rows) + 2000) * SCALARS),
            "decode": n / (time.perf_counter() - t0)}


def bench_wandb(tmp: Path, rows) -> dict | None:
    try:
        import wandb
    except ImportError:
        return None
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        os.environ[var] = str(tmp / "wandb")
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    run = wandb.init(project="bench", dir=str(tmp / "wandb"))
    samples = time_calls(lambda i, r: run.log(r, step=i), rows)
    run.finish()
    files = list((tmp / "wandb").rglob("*.wandb"))
    size = sum(p.stat().st_size for p in files)
    return {"median_us": statistics.median(samples) / 1e3, "p99_us": percentile(samples, 99) / 1e3,
            "bytes_per_point": size / ((len(rows) + 2000) * SCALARS)}


def bench_tensorboard(tmp: Path, rows) -> dict | None:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    writer = SummaryWriter(log_dir=str(tmp / "tb"))

    def call(i, r):
        for k, v in r.items():
            writer.add_scalar(k, v, i)

    samples = time_calls(call, rows)
    writer.close()
    size = sum(p.stat().st_size for p in (tmp / "tb").rglob("*") if p.is_file())
    return {"median_us": statistics.median(samples) / 1e3, "p99_us": percentile(samples, 99) / 1e3,
            "bytes_per_point": size / ((len(rows) + 2000) * SCALARS)}


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--client-steps", type=int, default=5_000, help="steps for the slow clients (W&B, TB)")
    ap.add_argument("--flush-interval", type=float, default=0.2)
    args = ap.parse_args()
    noisy, smooth = synthetic(args.steps, True), synthetic(args.steps, False)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ours = bench_ol(tmp, noisy)
        built, floor = bench_floor(tmp, noisy)
        bpp_noisy = bytes_per_point(tmp, noisy, "noisy")
        bpp_smooth = bytes_per_point(tmp, smooth, "smooth")
        py_dec, arrow_dec = decode_speeds(tmp / "noisy" / "log", args.steps * SCALARS)
        lat = follow_latency(tmp, args.flush_interval)
        jsonl = bench_jsonl(tmp, noisy)
        wb = bench_wandb(tmp, noisy[: args.client_steps])
        tb = bench_tensorboard(tmp, noisy[: args.client_steps])

    def ratio(other, key, inverse=False):
        if other is None:
            return "not installed"
        r = other[key] / ours[key] if not inverse else ours[key] / other[key]
        return f"{r:,.0f}×" if r >= 10 else f"{r:.1f}×"

    print(f"Machine: {machine()}; {args.steps:,} steps × {SCALARS} scalars "
          f"(W&B and TensorBoard: {args.client_steps:,} steps); flush interval {args.flush_interval}s\n")
    print("| measure | ol | target | JSONL | W&B offline | TensorBoard |")
    print("| --- | --- | --- | --- | --- | --- |")
    fmt = lambda o, k, f="{:.2f}": "—" if o is None else f.format(o[k])  # noqa: E731
    print(f"| log() of 8 scalars, median µs | {ours['median_us']:.2f} | ≤ 3 | {fmt(jsonl, 'median_us')} "
          f"| {fmt(wb, 'median_us', '{:.0f}')} | {fmt(tb, 'median_us', '{:.0f}')} |")
    print(f"| log() of a dict built in the call / the floor loop (a timestamp and a deque append of a copy), "
          f"median µs | {built:.2f} / {floor:.2f} = {built / floor:.2f}× | ≤ 1.6× | | | |")
    print(f"| log() of 8 scalars, p99 µs | {ours['p99_us']:.2f} | — | {fmt(jsonl, 'p99_us')} "
          f"| {fmt(wb, 'p99_us', '{:.0f}')} | {fmt(tb, 'p99_us', '{:.0f}')} |")
    print(f"| … ol is faster by | — | — | {ratio(jsonl, 'median_us')} | {ratio(wb, 'median_us')} "
          f"| {ratio(tb, 'median_us')} |")
    print(f"| sustained scalar points/s through the writer | {ours['points_per_s']:,.0f} | ≥ 1,000,000 | | | |")
    print(f"| bytes per point, float32-noisy, 1,000-step frames | {bpp_noisy:.2f} | ≤ 6 "
          f"| {fmt(jsonl, 'bytes_per_point')} | {fmt(wb, 'bytes_per_point')} | {fmt(tb, 'bytes_per_point')} |")
    print(f"| bytes per point, smooth series, 1,000-step frames | {bpp_smooth:.2f} | ≤ 3 | | | |")
    print(f"| bytes per point, as the sustained run wrote it | {ours['bytes_per_point_live']:.2f} | — | | | |")
    print(f"| decode into Python events, points/s | {py_dec:,.0f} | — | {fmt(jsonl, 'decode', '{:,.0f}')} | | |")
    print(f"| decode into a pyarrow Table, points/s | {arrow_dec:,.0f} | ≥ 5,000,000 | | | |")
    if lat:
        print(f"| follow latency p50 / p99, ms | {percentile(lat, 50) * 1e3:.0f} / {percentile(lat, 99) * 1e3:.0f} "
              f"| p99 ≤ {args.flush_interval * 1e3 + 100:.0f} | | | |")


if __name__ == "__main__":
    main()
