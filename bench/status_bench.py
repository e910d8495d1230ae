"""`ol sweep --status` of a sweep, timed from the shell, side by side with another ol (issue 41's target: a 4 × 10
sweep answers in ≤ 1 s, its bootstrap intervals and permutation tests included).

    python bench/status_bench.py STORE SWEEP [--before VENV/bin/python] [--repeats 9]

Each command runs --repeats times in a fresh process, the two ols taking turns so the machine's drift falls on
both; the store's index is brought up to date once first (as any earlier reader would have), so the rows time
answering, not indexing. Prints a table of medians and fastest times; not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("sweep")
    ap.add_argument("--before", help="the Python of another ol (a venv), timed on the same store")
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    pythons = {"this ol": sys.executable, **({"before": args.before} if args.before else {})}
    commands = {"--status": ["--status", args.sweep], "--status --estimator iqm": ["--status", args.sweep,
                                                                                   "--estimator", "iqm"]}
    for python in pythons.values():
        subprocess.run([python, "-c", "from ol.cli import main; main()", "index", "--store", str(args.store)],
                       check=True, capture_output=True)
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for label, flags in commands.items():
            for who, python in pythons.items():
                cmd = [python, "-c", "from ol.cli import main; main()", "sweep", *flags, "--store", str(args.store)]
                started = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                elapsed = time.perf_counter() - started
                if done.returncode != 0:  # an older ol without --estimator: that row is left out
                    continue
                times.setdefault((label, who), []).append(elapsed)
    print(f"Machine: {machine()}; sweep {args.sweep} in {args.store}, {args.repeats} fresh processes each\n")
    print("| command | ol | median | fastest | vs before |")
    print("| --- | --- | --- | --- | --- |")
    for (label, who), found in times.items():
        before = times.get((label, "before"))
        ratio = f"{statistics.median(found) / statistics.median(before):.2f}×" if before and who != "before" else ""
        print(f"| ol sweep {label} | {who} | {statistics.median(found):.2f} s | {min(found):.2f} s | {ratio} |")


if __name__ == "__main__":
    main()
