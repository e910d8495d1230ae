"""Sweep benchmark: the same 4-strategy × 2-seed sweep with --jobs 1 and --jobs 2, side by side.

    python bench/sweep_bench.py [--epochs 40] [--seeds 0-1]

Runs the `quick` configuration for --epochs epochs (no early stop, so every run does the same work)
and reports the sweep's wall time with each --jobs, their ratio, and the time per epoch inside the
runs (where two runs on two cores would show oversubscription). Prints a table.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402

from ol.store.catalog import list_runs  # noqa: E402

OL = [sys.executable, "-c", "from ol.cli import main; main()"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seeds", default="0-1")
    args = ap.parse_args()
    rows = []
    for jobs in (1, 2):
        store = Path(tempfile.mkdtemp(prefix=f"ol-sweep-bench-{jobs}-"))
        try:
            t = time.perf_counter()
            subprocess.run(OL + ["sweep", "mod_arithmetic", "--seeds", args.seeds, "--jobs", str(jobs), "--name", "b",
                                 "--store", str(store), "--epochs", str(args.epochs), "--no-stop-at-target"],
                           check=True, capture_output=True, timeout=7200)
            wall = time.perf_counter() - t
            runs = list_runs(store)
            per_epoch = statistics.median(r.wall_time / (r.last_epoch + 1) for r in runs)
            rows.append((jobs, len(runs), wall, per_epoch))
        finally:
            shutil.rmtree(store, ignore_errors=True)
    (_, n, wall1, epoch1), (_, _, wall2, epoch2) = rows
    print(f"Machine: {machine()}; {n} runs (4 strategies × seeds {args.seeds}), quick preset, {args.epochs} epochs "
          "each, --threads-per-run 1\n")
    print("| measure | --jobs 1 | --jobs 2 | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| sweep wall time | {wall1:.1f} s | {wall2:.1f} s | {wall1 / wall2:.2f}× faster (target ≥ 1.7×) |")
    print(f"| time per epoch inside a run (median) | {epoch1 * 1000:.0f} ms | {epoch2 * 1000:.0f} ms | "
          f"{epoch2 / epoch1:.2f}× (1.0 = no oversubscription) |")


if __name__ == "__main__":
    main()
