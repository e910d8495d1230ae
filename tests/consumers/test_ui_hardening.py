"""The dashboard's write path and limits, attacked as a page on another port, a crafted link and a slow or
greedy client would (hardening round three): nothing it is sent runs script, changes the store or holds the
server's memory or connections."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import urllib.request
from urllib.parse import urlparse

import pytest
from starlette.testclient import TestClient

from ol.consumers.ui import saved
from ol.consumers.ui.app import create_app
from ol.consumers.ui.protocol import HEADER_TIMEOUT
from ol.producer.run import Run
from tests.consumers.browser import assert_clean, open_page, poll

PAYLOAD = "\"'><img src=x onerror=\"window.__xss=(window.__xss||0)+1\"><svg onload=\"window.__xss=1\">"


def _store(tmp_path):
    root = tmp_path / "runs"
    for seed in (0, 1):
        with Run.start(store=root, experiment="e", strategy="s", seed=seed, group="g", handle_signals=False) as run:
            for step in range(5):
                run.log({"loss": 1.0 / (step + 1)}, step=step)
    return root


def _csrf(client) -> str:
    page = client.get("/").text
    return page.split('name="ol-csrf" content="', 1)[1].split('"', 1)[0]


def test_a_page_on_another_port_cannot_save_a_workspace_and_a_crafted_link_runs_no_script(tmp_path, serve, browser):
    store = _store(tmp_path)
    server = serve(store)
    port = urlparse(server.url).port
    attack = f"""<script>
      fetch("http://127.0.0.1:{port}/api/workspaces", {{method: "POST", credentials: "include", mode: "no-cors",
        headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{name: "evil", view: "size=x"}})}});
      fetch("http://127.0.0.1:{port}/api/workspaces", {{method: "POST", credentials: "include",
        headers: {{"Content-Type": "application/json"}}, body: JSON.stringify({{name: "evil2", view: "size=x"}})}})
        .then(r => document.title = "status " + r.status).catch(e => document.title = "blocked");
    </script>""".encode()

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(attack)

        def log_message(self, *args):
            pass

    evil = http.server.HTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:  # a page on 127.0.0.1:OTHER is same-site with the dashboard, not same-origin
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        page.wait_for_function("document.title.length > 0", timeout=10_000)
        time.sleep(0.5)
        page.close()
    finally:
        evil.shutdown()
    assert not (store / saved.WORKSPACES_DIR).exists(), "another origin's page saved a workspace"

    page = open_page(browser, server.url + f"#size={PAYLOAD}")
    page.wait_for_function("Object.keys(window.ol.page.workspace.panels).length > 0")
    page.wait_for_timeout(300)  # an injected image's onerror fires once its load fails
    assert page.evaluate("document.querySelectorAll('img[src=x], svg[onload]').length") == 0
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("window.ol.state.size") == "m"  # not one of s, m, l: the default


def test_every_url_hash_parameter_carrying_markup_runs_no_script(tmp_path, serve, browser):
    store = _store(tmp_path)
    server = serve(store)
    page = open_page(browser, server.url)
    names = page.evaluate("Object.keys(window.ol.state)")
    assert len(names) > 20
    views = ["runs", "run", "compare", "sweep"]
    for name in names:
        for view in views:  # each view draws other parameters
            page.evaluate("window.__xss = undefined")
            page.goto(server.url + f"#view={view}&run=e/x&sweep=g&{name}={PAYLOAD}&hpx={PAYLOAD}")
            page.reload()
            page.wait_for_selector("body[data-ready='1']", timeout=20_000)
            page.wait_for_timeout(200)
            assert page.evaluate("window.__xss") is None, f"#{name}=… ran script in view {view}"
            assert page.evaluate("document.querySelectorAll('img[src=x], svg[onload]').length") == 0, name


def test_the_page_works_under_its_content_security_policy_which_forbids_inline_script(tmp_path, serve, browser):
    store = _store(tmp_path)
    server = serve(store)
    with urllib.request.urlopen(server.url, timeout=10) as r:
        policy = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    page = open_page(browser, server.url, enforce_csp=True)
    poll(page, "Object.keys(window.ol.page.workspace.panels).length > 0")
    poll(page, "document.querySelectorAll('.panel canvas').length > 0")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=\"window.__xss=1\">')")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None  # an inline handler does not run, whatever reaches the page
    page.errors = [e for e in page.errors if "Content Security Policy" not in e and "404" not in e]
    assert_clean(page)


def test_a_write_needs_json_the_servers_own_origin_or_the_pages_token(tmp_path):
    store = _store(tmp_path)
    with TestClient(create_app(store), base_url="http://127.0.0.1:8765") as c:
        token = _csrf(c)
        body = json.dumps({"name": "w", "view": "size=s"})
        plain = c.post("/api/workspaces", content=body, headers={"Content-Type": "text/plain",
                                                                 "Origin": "http://127.0.0.1:8765"})
        assert plain.status_code == 403 and "JSON" in plain.json()["error"]
        other_port = c.post("/api/workspaces", content=body, headers={"Content-Type": "application/json",
                                                                      "Origin": "http://127.0.0.1:8001"})
        assert other_port.status_code == 403
        bare = c.post("/api/workspaces", content=body, headers={"Content-Type": "application/json"})
        assert bare.status_code == 403 and "X-OL-CSRF" in bare.json()["error"]
        assert not (store / saved.WORKSPACES_DIR).exists()
        ok = c.post("/api/workspaces", content=body, headers={"Content-Type": "application/json",
                                                              "Origin": "http://127.0.0.1:8765"})
        assert ok.status_code == 200
        again = c.post("/api/workspaces", content=json.dumps({"name": "w", "view": "size=l"}),
                       headers={"Content-Type": "application/json", "X-OL-CSRF": token})
        assert again.status_code == 409  # the same name is not overwritten silently
        assert c.get("/api/workspaces", params={"name": "w"}).json()["view"] == "size=s"
        replaced = c.post("/api/workspaces", content=json.dumps({"name": "w", "view": "size=l", "replace": True}),
                          headers={"Content-Type": "application/json", "X-OL-CSRF": token})
        assert replaced.status_code == 200 and c.get("/api/workspaces?name=w").json()["view"] == "size=l"
        listing = c.get("/api/workspaces").json()["workspaces"]
        assert [w["name"] for w in listing] == ["w"] and "view" not in listing[0]  # names only


def test_saved_workspaces_are_bounded_in_number_and_size(tmp_path, monkeypatch):
    store = _store(tmp_path)
    monkeypatch.setattr(saved, "MAX_WORKSPACES", 3)
    for i in range(3):
        saved.save(store, f"w{i}", "size=s")
    with pytest.raises(saved.Conflict, match="remove some"):
        saved.save(store, "w3", "size=s")
    saved.save(store, "w1", "size=l", replace=True)  # replacing one keeps the count
    monkeypatch.setattr(saved, "MAX_TOTAL", 100)
    with pytest.raises(saved.Conflict):
        saved.save(store, "w1", "x" * 200, replace=True)


def _post_raw(url: str, head: bytes, body_chunks=()) -> tuple[int, bytes]:
    host, port = urlparse(url).hostname, urlparse(url).port
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(head)
        try:
            for chunk in body_chunks:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the rest was sent
        answer = b""
        while b"\r\n\r\n" not in answer:
            part = s.recv(65536)
            if not part:
                break
            answer += part
    return int(answer.split(b" ", 2)[1]), answer


def test_a_huge_body_is_refused_unread_and_half_sent_headers_are_cut_off(tmp_path, serve):
    store = _store(tmp_path)
    server = serve(store)
    origin = server.url.rstrip("/")
    host = urlparse(server.url).netloc
    said = (f"POST /api/workspaces HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {1_500_000_000}\r\n\r\n").encode()
    status, _ = _post_raw(server.url, said)
    assert status == 413
    chunked = (f"POST /api/workspaces HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
    status, _ = _post_raw(server.url, chunked, [piece] * 8)  # 8 MiB without a length: cut at the limit
    assert status == 413
    rss = _rss_mib(server.proc.pid)
    assert rss < 400, f"the server holds {rss} MiB after refusing the bodies"
    assert not (store / saved.WORKSPACES_DIR).exists()

    slow = [socket.create_connection(("127.0.0.1", urlparse(server.url).port)) for _ in range(20)]
    try:
        for s in slow:
            s.sendall(b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and never the rest
        deadline = time.time() + HEADER_TIMEOUT + 10
        for s in slow:
            s.settimeout(max(0.1, deadline - time.time()))
            assert s.recv(1024) == b"", "a connection with half-sent headers was kept open"
    finally:
        for s in slow:
            s.close()
    with urllib.request.urlopen(server.url + "api/runs", timeout=10) as r:  # the server still answers
        assert r.status == 200


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        line = next(x for x in f if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024
