"""Query benchmark: a synthetic store of 100 runs × 100,000 steps × 8 scalars (80 M points).

    python bench/query_bench.py [--runs 100] [--steps 100000] [--keep DIR]

Each phase runs in its own process, so its peak memory is its own: indexing throughput, the
connection (index sync and views), a first and a warm aggregate query over every point.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine, synthetic  # noqa: E402

from ol.schemas import SCHEMA_VERSION, RunEnded, RunStarted  # noqa: E402
from ol.store.log.codec import PayloadEncoder  # noqa: E402
from ol.store.log.format import FORMAT_VERSION, SegmentHeader, pack_frame, pack_segment_header  # noqa: E402

STRATEGIES = ("stride", "target", "random", "fixed-random")
QUERY = ("SELECT r.strategy, m.name, max(m.value) AS best, avg(m.value) AS mean FROM metrics m "
         "JOIN runs r USING (run_id) GROUP BY ALL ORDER BY ALL")
# the same question answered from the per-run statistics compaction writes (what `ol export` uses)
STATS_QUERY = ("SELECT r.strategy, s.name, max(s.max) AS best, sum(s.mean * s.count) / sum(s.count) AS mean "
               "FROM metric_stats s JOIN runs r USING (run_id) GROUP BY ALL ORDER BY ALL")

PHASES = {
    "compact": (
        "import json, sys, time\n"
        "from ol.store.index.indexer import sync\n"
        "t = time.perf_counter()\n"
        "done = sync(sys.argv[1])\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'runs': done.indexed}))\n"
    ),
    "query": (
        "import json, sys, time\n"
        "from ol.consumers.analytics.sql import connect\n"
        "t0 = time.perf_counter(); conn = connect(sys.argv[1]); t1 = time.perf_counter()\n"
        "first = conn.query(sys.argv[2]); t2 = time.perf_counter()\n"
        "warm, stats = [], []\n"
        "for _ in range(3):\n"
        "    s = time.perf_counter(); conn.query(sys.argv[2]); warm.append(time.perf_counter() - s)\n"
        "    s = time.perf_counter(); conn.query(sys.argv[3]); stats.append(time.perf_counter() - s)\n"
        "n = conn.query('SELECT count(*) AS n FROM metrics').column('n')[0].as_py()\n"
        "print(json.dumps({'connect': t1 - t0, 'first': t2 - t1, 'warm': min(warm), 'stats': min(stats), 'rows': n,"
        " 'groups': first.num_rows}))\n"
    ),
}


def build_store(root: Path, runs: int, steps: int) -> None:
    """Step frames are encoded once per strategy and their bytes reused: every log is a real log."""
    encoder = PayloadEncoder()
    frames_by_strategy = {}
    for k, strategy in enumerate(STRATEGIES):
        rows = synthetic(steps, noisy=True, seed=k)
        frames = []
        for start in range(0, steps, 1000):
            block = [(i + 1, i // 1000, round(i * 2e-4, 6), rows[i]) for i in range(start, min(steps, start + 1000))]
            payload, count = encoder.encode(block)
            frames.append(pack_frame(1 + start, count, payload))
        frames_by_strategy[strategy] = b"".join(frames)
    for i in range(runs):
        strategy = STRATEGIES[i % len(STRATEGIES)]
        run_id = f"bench-{i:03d}"
        log = root / "mod_arithmetic" / run_id / "log"
        log.mkdir(parents=True)
        started, _ = encoder.encode([RunStarted(run_id=run_id, experiment="mod_arithmetic", strategy=strategy,
                                                seed=i // len(STRATEGIES), config={"p": 97})])
        ended, _ = encoder.encode([RunEnded(status="completed", wall_time=60.0)])
        with open(log / "00000000.olog", "xb") as f:
            f.write(pack_segment_header(SegmentHeader(FORMAT_VERSION, SCHEMA_VERSION, 0, 0, run_id)))
            f.write(pack_frame(0, 1, started))
            f.write(frames_by_strategy[strategy])
            f.write(pack_frame(steps + 1, 1, ended))


def run_phase(name: str, *args: str) -> tuple[dict, float]:
    """(the phase's JSON output, its peak RSS in MiB)."""
    proc = subprocess.Popen([sys.executable, "-c", PHASES[name], *args], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"phase {name} failed")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="ol-query-bench-"))
    points = args.runs * args.steps * 8
    t = time.perf_counter()
    reused = (root / "mod_arithmetic").exists()
    if not reused:
        build_store(root, args.runs, args.steps)
    built = "reused" if reused else f"built in {time.perf_counter() - t:.0f} s"
    log_mib = sum(p.stat().st_size for p in root.rglob("*.olog")) / 2**20
    shutil.rmtree(root / ".index", ignore_errors=True)  # a kept store is indexed from scratch every time
    compact, compact_rss = run_phase("compact", str(root))
    query, query_rss = run_phase("query", str(root), QUERY, STATS_QUERY)
    parquet_mib = sum(p.stat().st_size for p in (root / ".index").rglob("*") if p.is_file()) / 2**20
    print(f"Machine: {machine()}; {args.runs} runs × {args.steps:,} steps × 8 scalars = {points:,} points "
          f"(store {built}: {log_mib:.0f} MiB of logs; {parquet_mib:.0f} MiB in the index)\n")
    print("| measure | result | target |")
    print("| --- | --- | --- |")
    print(f"| indexing throughput | {points / compact['seconds']:,.0f} points/s ({compact['seconds']:.1f} s "
          f"for {compact['runs']} runs) | ≥ 5,000,000 points/s |")
    print(f"| connect: index sync (nothing new) + views | {query['connect']:.2f} s | — |")
    print(f"| first aggregate query over all {query['rows']:,} metric rows | {query['first']:.2f} s | — |")
    print(f"| warm aggregate query (best of 3) | {query['warm']:.2f} s | < 1 s |")
    print(f"| the same question from metric_stats (best of 3) | {query['stats']:.3f} s | < 1 s |")
    print(f"| peak memory, indexing process | {compact_rss:,.0f} MiB | bounded |")
    print(f"| peak memory, query process | {query_rss:,.0f} MiB | bounded |")
    print(f"\nquery: `{QUERY}`\n\nfrom metric_stats: `{STATS_QUERY}`")
    if not args.keep:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
