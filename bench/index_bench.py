"""Store-level index benchmark: many small runs, read through the index.

    python bench/index_bench.py [--sizes 1000,3000,10000] [--steps 1000] [--keep DIR]

For each size, a store of N runs × STEPS steps × 4 scalars plus one epoch event per 100 steps is built
directly (real logs, frames encoded once and reused). Then, each in its own process (CLI start-up
included where it says `ol`), side by side:
- the first index build (seconds, per run);
- `ol runs`, `ol query` over the runs view, and an aggregate over every step of every run, warm;
- the first query after 200 new runs join the store (only they are indexed);
- file-system calls of a warm query (strace -c -f), peak memory, derived bytes against the logs' bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402

from ol.schemas import SCHEMA_VERSION, Epoch, RunEnded, RunStarted  # noqa: E402
from ol.schemas.events import RunContract  # noqa: E402
from ol.store.log.codec import PayloadEncoder  # noqa: E402
from ol.store.log.format import FORMAT_VERSION, SegmentHeader, pack_frame, pack_segment_header  # noqa: E402

STRATEGIES = ("stride", "target", "random", "fixed-random")
OL = str(Path(sys.executable).with_name("ol"))
RUNS_SQL = "SELECT strategy, count(*) AS n, avg(main_best) AS best FROM runs GROUP BY ALL ORDER BY ALL"
STEPS_SQL = "SELECT count(*) AS n, avg(loss) AS loss FROM steps"
NEW_RUNS = 200


def build_runs(root: Path, first: int, count: int, steps: int) -> None:
    encoder = PayloadEncoder()
    rng = np.random.default_rng(0)
    t = np.arange(steps, dtype=np.float64)
    frames = {}
    for k, strategy in enumerate(STRATEGIES):
        loss = (2.5 * np.exp(-t / (steps / 5)) + 0.05 + np.abs(rng.normal(0, 0.05, steps))).astype(np.float32)
        acc = np.clip(1 - np.exp(-t / (steps / (4 + k))), 0, 1).astype(np.float32)
        grad = (1 + np.abs(rng.normal(0, 0.2, steps))).astype(np.float32)
        lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * t / steps))
        parts = []
        for start in range(0, steps, 500):
            rows = [(i + 1, i // 100, round(i * 1e-3, 6),
                     {"loss": float(loss[i]), "lr": float(lr[i]), "acc": float(acc[i]), "grad_norm": float(grad[i])})
                    for i in range(start, min(steps, start + 500))]
            payload, count_ = encoder.encode(rows)
            parts.append(pack_frame(1 + start, count_, payload))
        ends = [(e, (e + 1) * 100 - 1) for e in range(steps // 100)]
        epochs = [Epoch(epoch=e, step=s, time=e * 0.1,
                        metrics={"train_loss": float(loss[s]), "test_acc": float(acc[s])}) for e, s in ends]
        payload, count_ = encoder.encode(epochs)
        parts.append(pack_frame(1 + steps, count_, payload))
        frames[strategy] = b"".join(parts)
    contract = RunContract(main_metric="test_acc", direction="higher", target=0.99, total_epochs=steps // 100)
    for i in range(first, first + count):
        strategy = STRATEGIES[i % len(STRATEGIES)]
        run_id = f"r{i:06d}"
        log = root / "mod_arithmetic" / run_id / "log"
        log.mkdir(parents=True)
        started, _ = encoder.encode([RunStarted(run_id=run_id, experiment="mod_arithmetic", strategy=strategy,
                                                seed=i // len(STRATEGIES), config={"p": 97, "lr": 1e-3 * (1 + i % 3)},
                                                contract=contract, started_at=1.7e9 + i)])
        ended, _ = encoder.encode([RunEnded(status="completed", wall_time=60.0)])
        with open(log / "00000000.olog", "xb") as f:
            f.write(pack_segment_header(SegmentHeader(FORMAT_VERSION, SCHEMA_VERSION, 0, 0, run_id)))
            f.write(pack_frame(0, 1, started))
            f.write(frames[strategy])
            f.write(pack_frame(steps + 1 + steps // 100, 1, ended))


def timed(args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, stdout) of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.stdout.close()
    proc.returncode = status
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed")
    return seconds, usage.ru_maxrss / 1024, out


def best_of(args: list[str], n: int = 3) -> float:
    return min(timed(args)[0] for _ in range(n))


def syscalls(args: list[str]) -> int:
    """File-system calls (open/stat family) of one process, counted by strace."""
    out = tempfile.mktemp(suffix=".strace")
    subprocess.run(["strace", "-f", "-c", "-o", out, "-e", "trace=%file,getdents64", *args], capture_output=True)
    total = 0
    for line in Path(out).read_text().splitlines():
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if m:
            total += int(m.group(1))
    os.unlink(out)
    return total


def dashboard(root: Path) -> dict:
    """`ol ui`'s runs table: the first page's answer (one request after the server is up), the same page
    again, and the page's 3-second poll while nothing changed (it sends the version it has)."""
    server = subprocess.Popen([OL, "ui", "--store", str(root), "--port", "0"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        url = None
        while url is None:
            line = server.stderr.readline()
            if not line:
                raise SystemExit("ol ui exited")
            found = re.search(r"http://127\.0\.0\.1:\d+/", line)
            url = found.group(0) if found else None
        page = url + "api/runs?limit=200"

        def get(address: str) -> tuple[float, bytes]:
            t = time.perf_counter()
            with urllib.request.urlopen(address, timeout=600) as response:
                body = response.read()
            return time.perf_counter() - t, body

        first, body = get(page)
        warm = min(get(page)[0] for _ in range(3))
        version = json.loads(body)["version"]
        poll = min(get(f"{page}&version={version}")[0] for _ in range(3))
        return {"ui_first": first, "ui_warm": warm, "ui_poll": poll, "ui_kib": len(body) / 1024}
    finally:
        server.kill()
        server.wait()


def size(path: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in path.rglob(pattern) if p.is_file())


def measure(root: Path, runs: int, steps: int) -> dict:
    store = ["--store", str(root)]
    build_runs(root, 0, runs, steps)
    first = timed([OL, "index", *store])[0]
    out = {"runs": runs, "index_first": first}
    out["ol_runs"] = best_of([OL, "runs", *store, "-f", "tsv"])
    out["query_runs"] = best_of([OL, "query", RUNS_SQL, *store, "-f", "csv"])
    out["query_steps"] = best_of([OL, "query", STEPS_SQL, *store, "-f", "csv"])
    out["rss_runs"] = timed([OL, "runs", *store, "-f", "tsv"])[1]
    out["rss_steps"] = timed([OL, "query", STEPS_SQL, *store, "-f", "csv"])[1]
    out["calls_runs"] = syscalls([OL, "runs", *store, "-f", "tsv"])
    out["calls_query"] = syscalls([OL, "query", STEPS_SQL, *store, "-f", "csv"])
    out.update(dashboard(root))
    logs, index = size(root, "*.olog"), size(root / ".index")
    out["derived_ratio"] = index / logs
    out["index_files"] = sum(1 for p in (root / ".index").rglob("*") if p.is_file())
    build_runs(root, runs, NEW_RUNS, steps)
    out["after_new"] = timed([OL, "query", STEPS_SQL, *store, "-f", "csv"])[0]
    out["points"] = runs * steps * 4
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000,10000")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--keep", type=Path, help="build the stores under this directory and keep them")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="ol-index-bench-"))
    results = []
    for n in [int(x) for x in args.sizes.split(",")]:
        root = base / f"store-{n}"
        shutil.rmtree(root, ignore_errors=True)
        results.append(measure(root, n, args.steps))
        print(json.dumps(results[-1]), file=sys.stderr)
        if not args.keep:
            shutil.rmtree(root)
    print(f"Machine: {machine()}; runs × {args.steps:,} steps × 4 scalars + {args.steps // 100} epochs each\n")
    print("| runs | first index build | per run | `ol runs` | `ol query` runs view | aggregate over all steps "
          f"| first query after {NEW_RUNS} new runs | fs calls `ol runs` / query | peak MiB runs / query "
          "| index files | derived / logs bytes | dashboard runs page: first / warm / unchanged poll (answer) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['runs']:,} | {r['index_first']:.1f} s | {1000 * r['index_first'] / r['runs']:.1f} ms "
              f"| {r['ol_runs']:.2f} s | {r['query_runs']:.2f} s | {r['query_steps']:.2f} s | {r['after_new']:.2f} s "
              f"| {r['calls_runs']:,} / {r['calls_query']:,} | {r['rss_runs']:.0f} / {r['rss_steps']:.0f} "
              f"| {r['index_files']} | {r['derived_ratio']:.2f} | {r['ui_first']:.2f} / {r['ui_warm']:.2f} / "
              f"{r['ui_poll']:.3f} s ({r['ui_kib']:.0f} KiB) |")
    if len(results) >= 2:
        a, b = results[0], results[-1]
        for key, label in (("ol_runs", "`ol runs`"), ("query_steps", "aggregate query")):
            slope = (b[key] - a[key]) / (b["runs"] - a["runs"])
            at = a[key] + slope * (100_000 - a["runs"])
            print(f"\n{label}: {1e6 * slope:.1f} µs per extra run → about {at:.1f} s at 100,000 runs")
        slope = (b["index_first"] - a["index_first"]) / (b["runs"] - a["runs"])
        print(f"\nfirst index build: {1000 * slope:.1f} ms per run")


if __name__ == "__main__":
    main()
