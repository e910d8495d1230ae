"""A workspace sent as one file (`ol ui --export`, the page's "export" button): a self-contained HTML file that
opens from file:// with the network blocked, draws the same panels with the live dashboard's values, and stays
small — 100 runs × 20 panels in at most 10 MB."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from urllib.parse import quote

from ol.consumers.ui.export import columns
from ol.producer import Run
from tests.consumers.browser import OL, open_page


def _store(tmp_path, runs: int = 100, metrics: int = 20, steps: int = 600):
    store = tmp_path / "runs"
    for n in range(runs):
        with Run.start(store=store, experiment="big", strategy=("stride", "random")[n % 2], seed=n // 2,
                       run_id=f"r{n:03d}", group="grid", config={"lr": (0.001, 0.003)[n // 50]},
                       handle_signals=False) as run:
            for step in range(1, steps + 1):
                run.log({f"m{k:02d}": (k + 1) / step + 0.001 * n for k in range(metrics)}, step=step)
    return store


def _answers(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="ol-export">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))["answers"]


def test_a_workspace_of_100_runs_and_20_panels_is_one_small_file_that_opens_offline_as_live(tmp_path, serve, browser):
    store = _store(tmp_path)
    out = tmp_path / "workspace.html"
    done = subprocess.run(OL + ["ui", "--store", str(store), "--export", "metric=train/m00&group=setting",
                                "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    size = out.stat().st_size
    assert size <= 10 * 2**20, size
    html = out.read_text()
    answers = _answers(html)
    assert len(answers["runs"]["default"]) == 100 and len(answers["metrics"]["metrics"]) == 20
    assert "<script src=" not in html and "http" not in re.sub(r"https?://(www\.)?w3\.org[^\"' ]*", "", html)

    # the file's curves are the live dashboard's at the same width
    server = serve(store)
    live = open_page(browser, server.url)
    for metric in ("train/m00", "train/m19"):
        kept = answers[f"series|{metric}|step"]
        width = columns(100)  # the export's width for 100 runs: 62 columns, at most 248 points a run
        asked = live.evaluate(f"api('/api/series', {{runs: {json.dumps(','.join(kept['runs']))}, "
                              f"metric: '{metric}', x: 'step', width: {width}}})")
        assert {k: (c["x"], c["y"]) for k, c in asked["runs"].items()} == \
            {k: (c["x"], c["y"]) for k, c in kept["runs"].items()}
    grouped = answers["groups|train/m00|step|setting|std"]["groups"]
    assert sorted(g["name"] for g in grouped) == ["random · lr=0.001", "random · lr=0.003", "stride · lr=0.001",
                                                  "stride · lr=0.003"]
    # the page's "export" button downloads the same file for the view on screen
    button = live.evaluate("document.querySelector('#ws-export').title")
    assert "one HTML file" in button
    with urllib.request.urlopen(server.url + "export?view=" + quote("metric=train/m00&group=setting")) as got:
        assert got.headers["Content-Disposition"] == 'attachment; filename="ol-workspace.html"'
        assert _answers(got.read().decode()).keys() == answers.keys()
    live.close()

    # opened from disk with every request that is not the file refused
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors, asked_out = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else
               (asked_out.append(r.request.url), r.abort()))
    page.goto(out.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.wait_for_function("window.ol.page.groups?.groups?.length === 4")
    assert page.evaluate("Object.keys(window.ol.page.workspace.panels).length") == 20
    page.wait_for_function("window.ol.page.workspace.panels['train/m00'].loaded")
    drawn = page.evaluate("window.ol.page.workspace.panels['train/m00'].loaded.curves['big/r007']")
    kept = answers["series|train/m00|step"]["runs"]["big/r007"]
    assert (drawn["x"], drawn["y"]) == (kept["x"], kept["y"])
    legend = page.eval_on_selector_all("#legend > span", "s => s.map(e => e.textContent)")
    assert legend[0].endswith("(mean of 25)")
    page.evaluate("window.ol.set({x0: '10', x1: '50'}); window.ol.refreshChart(false)")  # a zoom: the file's points
    page.wait_for_function("window.ol.page.chart.zoom && window.ol.page.chart.zoom[0] === 10")
    page.screenshot(path=tmp_path / "exported.png")
    assert errors == [] and asked_out == [], (errors, asked_out)


def test_export_mistakes_are_one_line_and_write_nothing(tmp_path):
    store = _store(tmp_path, runs=1, metrics=1, steps=3)
    out = tmp_path / "w.html"
    for args, needle in ((["--export", "mine"], "--export needs -o FILE.html"),
                         (["--export", "mine", "-o", str(out)], "no saved workspace named 'mine'"),
                         (["--export", "x=1", "-o", str(out), "--store", str(tmp_path / "none")], "no store at")):
        done = subprocess.run(OL + ["ui", "--store", str(store), *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and needle in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not out.exists()
