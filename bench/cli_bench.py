"""Start-up benchmark: how long each `ol` command takes from the shell, next to Python doing nothing.

    python bench/cli_bench.py [--repeats 9] [--runs 16] [--steps 10000]

Each command runs --repeats times in a fresh process on an indexed store of --runs runs; the
table shows the median and the fastest wall time, then the modules that cost `ol runs` the most
to import (python -X importtime). Prints a table; not part of the test suite.
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
from query_bench import build_store  # noqa: E402

OL = [sys.executable, "-c", "from ol.cli import main; main()"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10_000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ol-cli-bench-"))
    try:
        build_store(root, args.runs, args.steps)
        subprocess.run(OL + ["index", "--store", str(root)], check=True, capture_output=True)
        store = ["--store", str(root)]
        commands = [
            ("python -c pass (the floor)", [sys.executable, "-c", "pass"], "—"),
            ("python: import duckdb, SELECT 1 (an anchor)",
             [sys.executable, "-c", "import duckdb; duckdb.sql('SELECT 1').fetchall()"], "—"),
            ("ol --help", OL + ["--help"], "≤ 0.3 s"),
            ("ol runs", OL + ["runs", *store], "≤ 0.3 s"),
            ("ol events RUN (a run of 10,000 steps)", OL + ["events", "bench-000", *store], "≤ 0.3 s"),
            ("ol verify RUN", OL + ["verify", "bench-000", *store], "≤ 0.3 s"),
            (f"ol query over {args.runs} indexed runs",
             OL + ["query", "SELECT count(*) FROM runs", *store, "-f", "csv"], "≤ 0.5 s"),
            ("ol ui --help", OL + ["ui", "--help"], "—"),
            ("ol train --help (loads torch)", OL + ["train", "--help"], "—"),
        ]
        rows = []
        for name, cmd, target in commands:
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
                times.append(time.perf_counter() - t)
            rows.append((name, statistics.median(times), min(times), target))
        importers = _importers(OL + ["runs", *store])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"Machine: {machine()}; {args.repeats} runs of each command, fresh process each\n")
    print("| command | median | fastest | target |")
    print("| --- | --- | --- | --- |")
    for name, med, fast, target in rows:
        print(f"| {name} | {med:.3f} s | {fast:.3f} s | {target} |")
    print("\nTop imports of `ol runs` (cumulative, python -X importtime):\n")
    print("| module | ms |")
    print("| --- | --- |")
    for module, ms in importers:
        print(f"| {module} | {ms:.0f} |")


def _importers(cmd: list[str], top: int = 8) -> list[tuple[str, float]]:
    done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, timeout=300)
    found = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit() and name.startswith(" ") and not name.startswith("  "):
            found.append((name.strip(), int(cumulative) / 1000))  # top-level imports only
    return sorted(found, key=lambda x: -x[1])[:top]


if __name__ == "__main__":
    main()
