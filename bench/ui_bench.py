"""Dashboard benchmark: `ol ui` over the 100-run × 100,000-step × 8-scalar store (80 M points),
measured in headless Chromium, with TensorBoard's reader (and trackio's, when installed) as anchors.

    python bench/ui_bench.py [--runs 100] [--steps 100000] [--keep DIR] [--anchor-runs 10]
                             [--trackio-python VENV/bin/python]

Times are taken in the page (performance.now()) from the moment a view is asked for to the moment
its chart or table is drawn, so they include the server, the transfer, JSON parsing and drawing.
Needs Chromium (`apt-get install chromium`) and the test extra (playwright). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402
from query_bench import build_store  # noqa: E402

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
CHROMIUM = os.environ.get("OL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LIVE_WRITER = """
import sys, time
from ol.producer import Run
run = Run.start(store=sys.argv[1], experiment="live", run_id="live-1", flush_interval=float(sys.argv[2]))
print("ready", flush=True)
end = time.time() + float(sys.argv[3])
step = 0
while time.time() < end:
    run.log({"loss": time.time()}, step=step)  # the value is when it was logged: the page computes latency
    step += 1
    time.sleep(0.02)
run.close()
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--anchor-runs", type=int, default=10)
    ap.add_argument("--flush", type=float, default=0.2)
    ap.add_argument("--trackio-python", help="an interpreter with trackio installed, for its anchor row")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="ol-ui-bench-"))
    if not (root / "mod_arithmetic").exists():
        build_store(root, args.runs, args.steps)
    for cache in root.glob("*/*/.cache"):
        shutil.rmtree(cache)
    shutil.rmtree(root / "live", ignore_errors=True)
    t = time.perf_counter()
    subprocess.run(OL + ["index", "--store", str(root)], check=True, capture_output=True)
    compact_s = time.perf_counter() - t
    series_mib = sum(p.stat().st_size for p in root.rglob("series.arrow")) / 2**20
    rows: list[tuple[str, str, str]] = [("indexing the store, series levels included", f"{compact_s:.1f} s", "—"),
                                        ("series.arrow on disk (raw points + levels)", f"{series_mib:,.0f} MiB", "—")]
    server = subprocess.Popen(OL + ["ui", "--store", str(root), "--port", "0"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        url = _address(server)
        rows += _browser(url, root, args)
        rows.append(("server peak memory (VmHWM) after all of the above", f"{_peak_mib(server.pid):.0f} MiB",
                     "≤ 300 MiB"))
        keys = [f"mod_arithmetic/bench-{i:03d}" for i in range(args.anchor_runs)]
        t = time.perf_counter()
        body = _get(url + "api/series?" + urllib.parse.urlencode({"runs": ",".join(keys), "metric": "train/val_loss",
                                                                    "width": 1000}))
        ol_s = time.perf_counter() - t
        points = sum(len(r["x"]) for r in json.loads(body)["runs"].values())
    finally:
        server.terminate()
        server.wait(timeout=30)
    anchors = _anchors(root, args, ol_s, points)
    anchors.insert(1, ("ol, every point (series.arrow, cold, in process)", *_ol_every_point(root, args.anchor_runs)))
    print(f"Machine: {machine()}; {args.runs} runs × {args.steps:,} steps × 8 scalars = "
          f"{args.runs * args.steps * 8:,} points; Chromium headless\n")
    print("| measure | result | target |")
    print("| --- | --- | --- |")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    print(f"\nAnchors: one metric of {args.anchor_runs} runs × {args.steps:,} steps, read cold\n")
    print("| reader | seconds | points returned | ol is faster by (every point vs every point, else vs the chart) |")
    print("| --- | --- | --- | --- |")
    every = next(sec for name, sec, _ in anchors if name.startswith("ol, every point"))
    for name, seconds, n in anchors:  # every point against every point; a chart's worth against the chart
        base = every if "every point" in name else ol_s
        print(f"| {name} | {seconds:.3f} | {n:,} | " + ("— |" if name.startswith("ol") else f"{seconds / base:.0f}× |"))
    if not args.keep:
        shutil.rmtree(root)


def _browser(url: str, root: Path, args) -> list[tuple[str, str, str]]:
    from playwright.sync_api import sync_playwright

    rows = []
    keys = [f"mod_arithmetic/bench-{i:03d}" for i in range(args.runs)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"] if os.geteuid() == 0 else [])
        first = []
        for _ in range(4):  # the first with a cold server, then warm
            page = browser.new_page(viewport={"width": 1440, "height": 860})
            page.goto(url)
            page.wait_for_function(f"document.querySelectorAll('#runs tbody tr').length === {args.runs}")
            first.append(page.evaluate("window.ol.page.marks.table"))
            page.close()
        rows.append(("runs table first paint, from navigation (cold server / warm median)",
                     f"{first[0] / 1000:.2f} s / {statistics.median(first[1:]) / 1000:.2f} s", "≤ 0.5 s"))
        page = browser.new_page(viewport={"width": 1440, "height": 860})
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        chart = []
        for metric in ("train/loss", "train/acc", "train/loss"):  # two cold metrics, then a warm one
            chart.append(page.evaluate(_TIMED, [{"runs": ",".join(keys), "metric": metric, "x0": "", "x1": ""}, True]))
        drawn = page.evaluate("Object.values(window.ol.page.curves).reduce((n, c) => n + c.x.length, 0)")
        rows.append((f"chart of one metric for all {args.runs} runs, request to drawn (cold, cold, warm)",
                     " / ".join(f"{c / 1000:.2f}" for c in chart) + f" s ({drawn:,} points drawn)", "≤ 0.5 s"))
        rng = random.Random(0)
        zooms = []
        for _ in range(12):
            width = args.steps * rng.choice([0.5, 0.1, 0.01, 0.001])
            x0 = rng.uniform(1, args.steps - width)
            zooms.append(page.evaluate(_TIMED, [{"runs": ",".join(keys), "metric": "train/loss", "x0": str(x0),
                                                 "x1": str(x0 + width)}, False]))
        rows.append((f"zoom to a range (12 ranges of 0.1–50 % of the steps, {args.runs} runs): median / max",
                     f"{statistics.median(zooms) / 1000:.2f} / {max(zooms) / 1000:.2f} s", "≤ 0.3 s"))
        page.screenshot(path=str(root / "ui-bench-100-runs.png"))
        rows += _live(browser, url, root, args)
        browser.close()
    return rows


_TIMED = """async ([view, fresh]) => {
  window.ol.set(view);
  const t = performance.now();
  await window.ol.refreshChart(fresh);  // fresh: a new selection (metrics listed again); else a zoom
  return performance.now() - t;
}"""


def _live(browser, url: str, root: Path, args) -> list[tuple[str, str, str]]:
    seconds = 20.0
    writer = subprocess.Popen([sys.executable, "-c", LIVE_WRITER, str(root), str(args.flush), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    try:
        writer.stdout.readline()
        time.sleep(0.5)
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(urllib.parse.urlparse(r.url).path))
        page.goto(url + "#runs=live/live-1&metric=train/loss")
        page.wait_for_function("window.ol.page.live !== null")
        following = len(requests)
        writer.wait(timeout=seconds + 60)
        page.wait_for_function("document.querySelector(\"#runs tr[data-key='live/live-1'] .status\").textContent "
                               "=== 'completed'", timeout=30_000)
        log = page.evaluate("window.ol.page.liveLog")
        later = requests[following:]
    finally:
        writer.kill()
        writer.wait()
    latency = sorted(e["at"] / 1000 - y for e in log for r in e["runs"].values() for y in r["y"])
    per_point = [e["bytes"] / e["points"] for e in log if e["points"]]
    third = max(1, len(per_point) // 3)
    return [
        (f"live: logged → on the page, p50 / p99 (flush interval {args.flush} s, a step every 20 ms)",
         f"{_q(latency, 0.5) * 1000:.0f} / {_q(latency, 0.99) * 1000:.0f} ms ({len(latency):,} points)",
         f"p99 ≤ {args.flush * 1000 + 300:.0f} ms"),
        ("live: bytes per point sent, first third / last third of the run",
         f"{statistics.mean(per_point[:third]):.1f} / {statistics.mean(per_point[-third:]):.1f} B "
         f"({len(log)} updates)", "flat (∝ new points)"),
        ("live: requests for a run's series while following it (history refetches)",
         f"{later.count('/api/series')} (other requests: {len(later) - later.count('/api/series')}, "
         "the runs table's refresh)", "0"),
    ]


def _anchors(root: Path, args, ol_s: float, ol_points: int) -> list[tuple[str, float, int]]:
    out = [("ol ui: GET /api/series, 1,000 px wide (what the chart draws)", ol_s, ol_points)]
    tb = root.parent / (root.name + "-tb")
    shutil.rmtree(tb, ignore_errors=True)
    values = _values(root, args.anchor_runs)
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    for i, ys in enumerate(values):
        writer = EventFileWriter(str(tb / f"run-{i}"))
        for step, y in enumerate(ys):
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="val_loss", simple_value=y)])
            writer.add_event(event_pb2.Event(step=step, wall_time=1.0, summary=summary))
        writer.close()
    from tensorboard.backend.event_processing.event_accumulator import DEFAULT_SIZE_GUIDANCE, SCALARS, EventAccumulator

    reservoir = DEFAULT_SIZE_GUIDANCE[SCALARS]
    for name, guidance in (("TensorBoard EventAccumulator, every point", {"scalars": 0}),
                           (f"TensorBoard EventAccumulator, default ({reservoir:,}-point random reservoir)", None)):
        t = time.perf_counter()
        n = 0
        for i in range(args.anchor_runs):
            acc = EventAccumulator(str(tb / f"run-{i}"), size_guidance=guidance) if guidance else \
                EventAccumulator(str(tb / f"run-{i}"))
            acc.Reload()
            n += len(acc.Scalars("val_loss"))
        out.append((name, time.perf_counter() - t, n))
    shutil.rmtree(tb, ignore_errors=True)
    out += _trackio(values, args.trackio_python)
    return out


EVERY_POINT = """
import json, sys, time
from ol.consumers.ui.api import Dashboard
dash = Dashboard(sys.argv[1])
entries = [dash.reader.run(f"mod_arithmetic/bench-{i:03d}") for i in range(int(sys.argv[2]))]
t = time.perf_counter()
n = sum(len(dash.reader.series(i, "train/val_loss").step) for i in entries)
print(json.dumps([time.perf_counter() - t, n]))
"""


def _ol_every_point(root: Path, runs: int) -> tuple[float, int]:
    done = subprocess.run([sys.executable, "-c", EVERY_POINT, str(root), str(runs)], capture_output=True, text=True,
                          check=True, timeout=600)
    seconds, n = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, n


def _values(root: Path, runs: int) -> list[list[float]]:
    from ol.consumers.analytics.sql import connect

    conn = connect(root)
    out = []
    for i in range(runs):
        table = conn.query("SELECT val_loss FROM steps WHERE run_id = $r ORDER BY step", {"r": f"bench-{i:03d}"})
        out.append(table.column("val_loss").to_pylist())
    return out


TRACKIO = """
import json, sys, time
from trackio.sqlite_storage import SQLiteStorage
values = json.load(open(sys.argv[1]))
for i, ys in enumerate(values):  # written in bulk: the anchor is trackio's reader, not its logger
    SQLiteStorage.bulk_log("olbench", f"run-{i}", [{"val_loss": y} for y in ys], steps=list(range(len(ys))))
out = {}
for name, kw in (("every point", {}), ("its dashboard's default, max_points=1500", {"max_points": 1500})):
    t = time.perf_counter()
    n = sum(len(SQLiteStorage.get_metric_values("olbench", f"run-{i}", "val_loss", **kw)) for i in range(len(values)))
    out[name] = [time.perf_counter() - t, n]
print(json.dumps(out))
"""


def _trackio(values: list[list[float]], python: str | None) -> list[tuple[str, float, int]]:
    """trackio's reader over the same points, run by an interpreter that has trackio (it is not one of
    ours: it brings gradio and a web stack), e.g. a scratch venv: --trackio-python VENV/bin/python."""
    if not python:
        return []
    with tempfile.TemporaryDirectory(prefix="ol-ui-bench-trackio-") as tmp:
        data = Path(tmp) / "values.json"
        data.write_text(json.dumps(values))
        done = subprocess.run([python, "-c", TRACKIO, str(data)], capture_output=True, text=True, timeout=3600,
                              env={**os.environ, "TRACKIO_DIR": tmp})
    if done.returncode != 0:
        print(f"trackio anchor failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return []
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return [(f"trackio SQLiteStorage.get_metric_values, {name}", sec, n) for name, (sec, n) in result.items()]


def _address(server: subprocess.Popen) -> str:
    deadline = time.time() + 600  # the first start may index
    while time.time() < deadline:
        line = server.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if found:
            return found.group(0)
        if not line and server.poll() is not None:
            raise SystemExit("ol ui exited")
    raise SystemExit("ol ui never said where it serves")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=600) as response:
        return response.read()


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _q(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


if __name__ == "__main__":
    main()
