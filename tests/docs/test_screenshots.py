"""The documentation's pictures of the dashboard are made by this test from what the code draws today: a real
sweep (two orderings × two seeds of the flagship experiment), the dashboard's first screen in Chromium, light
and dark, written to docs/assets/screenshots/ (the site shows them; a change to the dashboard shows in them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.consumers.browser import Server, launch_browser, open_page

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "assets" / "screenshots"
OL = [sys.executable, "-c", "from ol.cli import main; main()"]


def test_the_dashboard_screenshots_in_the_docs_are_made_from_a_real_sweep(tmp_path):
    store = tmp_path / "runs"
    done = subprocess.run(OL + ["sweep", "mod_arithmetic", "--strategy", "stride", "--strategy", "random", "--seeds",
                                "0-1", "--epochs", "60", "--jobs", "2", "--name", "orders", "--store", str(store)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    browsers = launch_browser()
    browser, server = next(browsers), Server(store)
    try:
        for scheme in ("light", "dark"):
            page = open_page(browser, server.url, scheme=scheme)
            page.wait_for_function("window.ol.page.workspace && window.ol.page.workspace.firstPaint !== undefined",
                                   timeout=60_000)
            assert page.evaluate("window.ol.state.runs.split(',').length") == 4  # the newest group: the sweep
            page.screenshot(path=SHOTS / f"workspace-{scheme}.png")
            assert (SHOTS / f"workspace-{scheme}.png").stat().st_size > 20_000
            page.close()
    finally:
        server.stop()
        browsers.close()
