"""The dashboard's workspace on stores built by the other benchmarks, in headless Chromium.

    python bench/workspace_bench.py STORE [STORE …] [--hparams-runs 1000]

For each store (e.g. query_bench.py's 100 runs × 100,000 steps, index_bench.py's 10,000 runs, kept with
--keep): a fresh `ol ui`, then the default workspace opened with no choice made, timed in the page from
navigation to the moment every panel on screen shows its curves (cold server and browser, then the median of
two warm loads: the same browser opening it again). On the first store with at least --hparams-runs runs, those
runs are chosen (their workspace drawn) and the parallel coordinates are drawn and a brush applied, timed in the
page (drawing, and the filtered table's answer). The server's peak resident memory is read from /proc at the end.
Prints a table.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
CHROMIUM = os.environ.get("OL_CHROMIUM", "/usr/bin/chromium")


def serve(store: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(OL + ["ui", "--store", str(store), "--port", "0"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    while True:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit(f"ol ui exited: {proc.wait()}")
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if found:
            return proc, found.group(0)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def first_paint(browser, url: str) -> tuple[float, int, int]:
    page = browser.new_page()  # a tab of the browser that opened the dashboard before: its cache is warm
    page.goto(url)
    page.wait_for_function("window.ol.page.workspace && window.ol.page.workspace.firstPaint !== undefined",
                           timeout=120_000)
    out = (page.evaluate("window.ol.page.workspace.firstPaint"),
           page.evaluate("Object.keys(window.ol.page.workspace.panels).length"),
           page.evaluate("window.ol.state.runs.split(',').length"))
    page.close()
    return out


PARALLEL = """() => {
  const t0 = performance.now(); renderHparams(); const t1 = performance.now();
  const a = hp.axes[0]; const lo = a.lo + (a.hi - a.lo) * 0.25, hi = a.lo + (a.hi - a.lo) * 0.75;
  set({ brush: `${a.col.key}~${lo}~${hi}` }); hpApply(); const t2 = performance.now();  // hpBrush, less the table
  return [t1 - t0, t2 - t1, hpInside().length];
}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", nargs="+", type=Path)
    ap.add_argument("--hparams-runs", type=int, default=1000)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print(machine())
    print("| store | runs / chosen / panels | default workspace drawn: cold / warm | parallel coordinates: draw / "
          "brush / table answer | server peak |")
    print("| --- | --- | --- | --- | --- |")
    done_hparams = False
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"] if os.geteuid() == 0 else [])
        for store in args.stores:
            proc, url = serve(store)
            try:
                # one browser (a context: its cache) opens the dashboard, then opens it again twice
                seen = browser.new_context(viewport={"width": 1440, "height": 860}, bypass_csp=True)  # probes evaluate
                cold = first_paint(seen, url)
                warm = [first_paint(seen, url) for _ in range(2)]
                seen.close()
                hp_cell = "—"
                page = browser.new_page(viewport={"width": 1440, "height": 860}, bypass_csp=True)  # the probes evaluate
                page.goto(url)
                page.wait_for_selector("body[data-ready='1']", timeout=120_000)
                total = page.evaluate("window.ol.page.all")
                if not done_hparams and total >= args.hparams_runs:
                    keys = page.evaluate(f"fetch('/api/runs?limit={args.hparams_runs}&selected=').then(r => r.json())"
                                         ".then(b => b.runs.map(r => r.key))")
                    page.goto(url + "#runs=" + ",".join(keys))
                    page.wait_for_function(f"hp.rows.length === {len(keys)}", timeout=120_000)
                    # the server's peak counts the workspace of those runs drawn too: every panel's curves
                    page.wait_for_function("window.ol.page.workspace.firstPaint !== undefined", timeout=120_000)
                    page.wait_for_load_state("networkidle", timeout=120_000)
                    draw, brush, inside = page.evaluate(PARALLEL)
                    t = time.perf_counter()
                    page.evaluate("reloadRuns({offset: '0'})")
                    page.wait_for_function(f"window.ol.page.total === {inside}", timeout=60_000)
                    answer = time.perf_counter() - t
                    hp_cell = (f"{draw:.0f} / {brush:.0f} ms / {answer * 1000:.0f} ms ({len(keys):,} runs, "
                               f"{inside} inside)")
                    done_hparams = True
                page.close()
                print(f"| {store} | {total:,} / {cold[2]} / {cold[1]} | {cold[0] / 1000:.2f} s / "
                      f"{statistics.median(w[0] for w in warm) / 1000:.2f} s | {hp_cell} | "
                      f"{peak_rss_mib(proc.pid):.0f} MiB |", flush=True)
            finally:
                proc.send_signal(2)
                proc.wait(timeout=30)
        browser.close()


if __name__ == "__main__":
    main()
