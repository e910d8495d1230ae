"""What the browser tests share: a real `ol ui` process, a headless Chromium page that records every host it
asks and every console error, and the live writer's protocol (fixtures in conftest.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.processes import interrupt

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
WRITER = Path(__file__).with_name("ui_writer.py")
CHROMIUM = os.environ.get("OL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def launch_browser():
    """Chromium through Playwright, for as long as the generator is not closed."""
    if CHROMIUM is None:
        pytest.fail("no Chromium for the browser tests: `apt-get install -y chromium` (or set OL_CHROMIUM to its path)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield b
        finally:
            b.close()


def open_page(browser, url: str, scheme: str = "light", enforce_csp: bool = False):
    """A page that records every request's host and every console error, for the checks at the end. Playwright's
    waits evaluate strings, which the dashboard's Content-Security-Policy forbids: it is bypassed unless
    ``enforce_csp`` (then wait by polling ``page.evaluate``)."""
    page = browser.new_page(viewport={"width": 1440, "height": 860}, color_scheme=scheme, bypass_csp=not enforce_csp)
    page.hosts, page.errors = set(), []
    page.on("request", lambda r: page.hosts.add(urlparse(r.url).hostname))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    return page


def poll(page, expression: str, timeout: float = 20.0):
    """Wait until ``expression`` is truthy in the page, without Playwright's string evaluation (CSP-safe)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never true: {expression}")


def assert_clean(page) -> None:
    assert page.hosts <= {"127.0.0.1"}, f"the page asked other hosts: {page.hosts - {'127.0.0.1'}}"
    assert not page.errors, f"console errors: {page.errors}"


class Server:
    def __init__(self, store: Path):
        self.proc = subprocess.Popen(OL + ["ui", "--store", str(store), "--port", "0"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        self.url = None
        while time.time() < deadline and self.url is None:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise AssertionError(f"ol ui exited with {self.proc.returncode}")
            found = re.search(r"http://127\.0\.0\.1:\d+/", line)
            self.url = found.group(0) if found else None
        assert self.url, "ol ui never said where it serves"

    def stop(self) -> None:
        interrupt(self.proc)


def serving():
    """start(store) -> a Server; every one started is stopped when the generator is closed."""
    servers = []

    def start(store: Path) -> Server:
        servers.append(Server(store))
        return servers[-1]
    yield start
    for s in servers:
        s.stop()


def send(writer: subprocess.Popen, line: str) -> None:
    """One line to ui_writer.py, and its "ok" once the step is logged and flushed."""
    writer.stdin.write(line + "\n")
    writer.stdin.flush()
    assert writer.stdout.readline().strip() == "ok"


@contextmanager
def live_writer(store: Path, run_id: str, group: str = ""):
    """ui_writer.py recording run ``run_id`` (lines through ``send``), killed when the block ends."""
    writer = subprocess.Popen([sys.executable, str(WRITER), str(store), run_id, *([group] if group else [])],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        yield writer
    finally:
        writer.kill()
        writer.wait()
