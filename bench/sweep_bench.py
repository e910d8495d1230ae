"""Sweep benchmark: one 4-strategy × 2-seed sweep run several ways, side by side, against a run alone.

    python bench/sweep_bench.py [--epochs 40] [--seeds 0-1] [--executors local,ray,slurm-local]

Runs the `quick` configuration for --epochs epochs (no early stop, so every run does the same work):
one `ol train` alone, then the sweep with --jobs 1 and --jobs 2 on the local executor, and (with
--executors) on a local Ray and through submitit's local executor (the Slurm path, --jobs 2). For
each it reports the wall time, the speed-up over --jobs 1, the time per epoch inside the runs
(oversubscription shows here) and the time each run spends outside its own recording (process start,
imports, data and model set-up — and the scheduler's own overhead): its run start-up. A run alone
pays the same start-up, so the difference is what the scheduler adds. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402

from ol.store.read.listing import scan_runs  # noqa: E402

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
WAYS = {"local": ("local", [], {}), "ray": ("ray", [], {}),
        # submitit's local executor starts every array task at once (it ignores --array-parallelism)
        "slurm-local": ("slurm", ["--time", "60"], {"OL_SUBMITIT_CLUSTER": "local"})}


def measure(args_for_run: list[str], env: dict | None = None) -> tuple[float, list]:
    store = Path(tempfile.mkdtemp(prefix="ol-sweep-bench-"))
    try:
        t = time.perf_counter()
        subprocess.run(OL + [*args_for_run, "--store", str(store)], check=True, capture_output=True, timeout=7200,
                       env={**os.environ, **(env or {})})
        return time.perf_counter() - t, scan_runs(store)
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seeds", default="0-1")
    ap.add_argument("--executors", default="local,ray,slurm-local",
                    help="besides local --jobs 1 and 2: which executors to run with --jobs 2")
    args = ap.parse_args()
    work = ["--epochs", str(args.epochs), "--no-stop-at-target"]
    one_thread = {v: "1" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    wall, (alone,) = measure(["train", "mod_arithmetic", "--quiet", *work], one_thread)
    rows = [("one `ol train` alone", 1, wall, [alone], None)]
    ways = [("local", 1)] + [(w, 2) for w in args.executors.split(",") if w]
    for way, jobs in ways:
        executor, options, env = WAYS[way]
        wall, runs = measure(["sweep", "mod_arithmetic", "--seeds", args.seeds, "--jobs", str(jobs), "--name", "b",
                              "--executor", executor, *options, *work], env)
        rows.append((f"sweep, {way}, --jobs {jobs}", jobs, wall, runs, None))
    base = rows[1][2]
    print(f"Machine: {machine()}; sweep of {len(rows[1][3])} runs (4 strategies × seeds {args.seeds}), quick "
          f"preset, {args.epochs} epochs each, --threads-per-run 1\n")
    print("| how | wall time | vs sweep --jobs 1 | runs at once (peak) | time per epoch in a run (median) | "
          "run start-up (per run) |")
    print("| --- | --- | --- | --- | --- | --- |")
    alone_startup = None
    for label, jobs, wall, runs, _ in rows:
        per_epoch = statistics.median(r.wall_time / (r.last_epoch + 1) for r in runs)
        peak = peak_overlap(runs)
        # seconds outside the runs' own recording, per run: the workers' time not spent inside a run. Only
        # meaningful when the scheduler kept to --jobs workers
        startup = (jobs * wall - sum(r.wall_time for r in runs)) / len(runs)
        alone_startup = startup if alone_startup is None else alone_startup
        speed = "—" if label.startswith("one") else f"{base / wall:.2f}×"
        extra = "" if label.startswith("one") else f" ({startup - alone_startup:+.2f} s vs alone)"
        shown = f"{startup:.2f} s{extra}" if peak <= jobs else f"— (ran {peak} at once, not {jobs})"
        print(f"| {label} | {wall:.1f} s | {speed} | {peak} | {per_epoch * 1000:.0f} ms | {shown} |")
    print("\nTarget: --jobs 2 ≥ 1.7× faster than --jobs 1. Run start-up with --jobs 2 counts both workers' "
          "time, so time a worker sat idle at the sweep's end (8 runs on 2 workers: none) would show there. "
          "submitit's local executor starts every array task at once (it does not apply --array-parallelism; "
          "Slurm does), so its row measures 8 runs sharing 2 cores.")


def peak_overlap(runs) -> int:
    """Most runs recording at the same moment, from their recorded start and end times."""
    edges = sorted([(r.started_at, 1) for r in runs] + [(r.ended_at, -1) for r in runs], key=lambda e: (e[0], e[1]))
    peak = now = 0
    for _, change in edges:
        now += change
        peak = max(peak, now)
    return peak


if __name__ == "__main__":
    main()
