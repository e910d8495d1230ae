"""Who may talk to `ol ui` (consumers/ui/access.py): every loopback form keeps the Host check, any other
address needs the token on every route, and no other site's page can make it run anything."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ol.consumers.ui.access import is_loopback
from ol.consumers.ui.app import create_app
from ol.producer.run import Run
from tests.processes import interrupt

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
TOKEN = "t" * 24
ROUTES = ["/", "/static/app.js", "/api/runs", "/api/metrics?runs=e/r1", "/api/run/e/r1"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("access") / "runs"
    with Run.start(store=root, experiment="e", run_id="r1", handle_signals=False) as run:
        run.log({"loss": 1.0}, step=0)
    return root


def test_every_loopback_form_is_loopback():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com"))


def test_without_the_token_every_route_is_401_and_with_it_the_page_works(store):
    with TestClient(create_app(store, token=TOKEN), base_url="http://192.0.2.1") as c:
        for route in ROUTES:
            assert c.get(route).status_code == 401, route
        assert c.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        first = c.get(f"/?token={TOKEN}&view=runs", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/?view=runs"
        assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Strict" in first.headers["set-cookie"]
        for route in ROUTES:  # the cookie now carries it
            assert c.get(route).status_code == 200, route


def test_another_sites_page_is_refused_even_blind(store):
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        heavy = "/api/runs?where=(SELECT count(*) FROM range(100000000000))>0"
        assert c.get(heavy, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        assert c.get("/api/runs", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_a_filter_that_would_take_the_machine_is_stopped_by_its_limits(store, monkeypatch):
    from ol.consumers.analytics import sql

    # the dashboard's own limits, with 2 s instead of 10 s to wait for the one that runs out of time
    monkeypatch.setattr(sql, "DASHBOARD_LIMITS", dataclasses.replace(sql.DASHBOARD_LIMITS, seconds=2.0))
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        huge = c.get("/api/runs", params={"where": "(SELECT max(len(l)) FROM (SELECT list(x) l FROM "
                                                   "range(400000000) t(x))) > 0"})
        assert huge.status_code == 400 and "memory" in huge.json()["error"]
        # little memory, much time (nothing spills to disk now: a DISTINCT over 10⁹ rows ends at the memory limit)
        slow = c.get("/api/runs", params={"where": "(SELECT sum(x) FROM range(100000000000) t(x)) > 0"})
        assert slow.status_code == 400 and "time limit" in slow.json()["error"]


class _Served:
    def __init__(self, store, host: str, *extra: str):
        env = {k: v for k, v in os.environ.items() if k != "OL_UI_TOKEN"}
        self.proc = subprocess.Popen(OL + ["ui", "--store", str(store), "--host", host, "--port", "0", *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.line = ""
        deadline = time.time() + 60
        while time.time() < deadline and "http://" not in self.line:
            self.line = self.proc.stderr.readline()
            if not self.line and self.proc.poll() is not None:
                raise AssertionError("ol ui exited")
        self.port = int(re.search(r":(\d+)/", self.line).group(1))
        self.browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # keeps the cookie

    def get(self, path: str, host_header: str | None = None, address: str = "127.0.0.1") -> int:
        request = urllib.request.Request(f"http://{address}:{self.port}{path}")
        if host_header:
            request.add_header("Host", host_header)
        try:
            with self.browser.open(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self) -> None:
        interrupt(self.proc)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "127.0.0.2", "localhost"])
def test_every_loopback_bind_refuses_a_rebinding_host(store, host):
    served = _Served(store, host)
    try:
        address = "127.0.0.2" if host == "127.0.0.2" else "127.0.0.1"
        assert served.get("/api/runs", address=address) == 200
        assert served.get("/api/runs", host_header=f"evil.example:{served.port}", address=address) == 400
    finally:
        served.stop()


def test_a_network_bind_prints_a_token_and_asks_for_it(store):
    served = _Served(store, "0.0.0.0")
    try:
        token = re.search(r"token=([\w-]+)", served.line).group(1)
        assert "anyone with this URL" in served.line
        assert served.get("/api/runs") == 401 and served.get("/") == 401
        assert served.get(f"/api/runs?token={token}") == 200  # followed to the page with its cookie
    finally:
        served.stop()


def test_the_server_answers_every_kind_of_request_without_loading_pandas(tmp_path):
    """pyarrow imports pandas whenever it is installed (about 50 MiB resident); the server blocks that import and
    must still answer a filter, curves, groups, the media index and a run's page."""
    import numpy as np

    import ol
    from ol.schemas import Epoch

    store = tmp_path / "runs"
    for seed in (1, 2):
        with Run.start(store=store, experiment="e", run_id=f"r{seed}", seed=seed, handle_signals=False) as run:
            run.log({"loss": 1.0 / seed, "w": ol.Histogram(np.arange(5.0))}, step=1, epoch=0)
            run.emit(Epoch(epoch=0, step=1, metrics={"test_acc": 0.5}))
    served = _Served(store, "127.0.0.1")
    try:
        runs = "e/r1%2Ce/r2"
        for path in ("/api/runs?where=" + urllib.parse.quote("seed = 1"), f"/api/series?runs={runs}&metric=train/loss",
                     f"/api/groups?runs={runs}&metric=eval/test_acc", f"/api/media-index?runs={runs}",
                     "/api/run/e/r1", "/api/media/e/r1?kind=histogram&source=train&name=w", "/api/sweeps"):
            assert served.get(path) == 200, path
        maps = Path(f"/proc/{served.proc.pid}/maps").read_text()
        assert "pyarrow" in maps and "/pandas/" not in maps
    finally:
        served.stop()


def test_a_filter_stops_when_its_client_leaves(store):
    """A cross join in `where` is interrupted when the page (or curl) that asked goes away, not 10 s later at
    its time limit: the server's CPU time stops growing soon after the client closes its connection."""
    import socket

    def cpu() -> float:
        fields = Path(f"/proc/{served.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    served = _Served(store, "127.0.0.1")
    try:
        where = urllib.parse.quote("(SELECT sum(a.range * b.range % 7) FROM range(100000) a, range(100000) b) > 0")
        start = cpu()
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            sock.sendall(f"GET /api/runs?where={where} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            time.sleep(1.0)
        assert cpu() - start > 0.2, "the query never ran"
        deadline, previous = time.time() + 5, cpu()  # the time limit is 10 s: a query left running fails here
        while True:
            time.sleep(0.5)
            now = cpu()
            if now - previous < 0.1:
                break
            assert time.time() < deadline, "the server kept computing after its client left"
            previous = now
        assert served.get("/api/runs") == 200
    finally:
        served.stop()
