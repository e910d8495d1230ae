"""Soak: the tester's kinds of attack against a live `ol ui`, with the server's cost of each request.

    python bench/ui_soak.py [--runs 1000] [--steps 34000] [--table-rows 1000000] [--keep DIR]

One server (`ol ui`, a real process) over a store of many runs, one run that logged a 1 M-row table and a
run still being written with 50,000 points. Each request is sent as an attacker would (unbounded SQL in
`where`, a cross join, a series of every run at the widest width, a live catch-up from step -1, requests
from another site or another Host name, malformed parameters); for each, the answer's status and size,
the wall time, the server's CPU time (from /proc) and its resident and peak memory after it. The server's
CPU in the 3 s after the last request shows nothing kept running once the client left. Prints a table.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402
from query_bench import build_store  # noqa: E402
from ui_bench import OL, _address  # noqa: E402

LIVE_WRITER = """
import sys, time
from ol.producer import Run
run = Run.start(store=sys.argv[1], experiment="live", run_id="live-1", flush_interval=0.05)
for step in range(50_000):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
run.flush()
print("ready", flush=True)
time.sleep(3600)  # still running: the test ends it
"""
TABLE_RUN = """
import sys
import ol
from ol.producer import Run
rows = int(sys.argv[2])
with Run.start(store=sys.argv[1], experiment="heavy", run_id="table-1") as run:
    run.log({"rows": ol.Table(["i", "text"], [[i, "row %d" % i] for i in range(rows)])}, step=0)
    run.log({"loss": 1.0}, step=1)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=34_000)
    ap.add_argument("--table-rows", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="ol-ui-soak-"))
    if not (root / "mod_arithmetic").exists():
        build_store(root, args.runs, args.steps)
        subprocess.run([sys.executable, "-c", TABLE_RUN, str(root), str(args.table_rows)], check=True)
        subprocess.run(OL + ["index", "--store", str(root)], check=True, capture_output=True)
    writer = subprocess.Popen([sys.executable, "-c", LIVE_WRITER, str(root)], stdout=subprocess.PIPE, text=True)
    server = None
    try:
        assert writer.stdout.readline().strip() == "ready"
        server = subprocess.Popen(OL + ["ui", "--store", str(root), "--port", "0"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        url = _address(server)
        everyone = ",".join(f"mod_arithmetic/bench-{i:03d}" for i in range(min(args.runs, 1000)))
        attacks = [
            ("runs list (baseline)", "api/runs", {}, {}),
            ("where: list of 400 M integers", "api/runs",
             {"where": "(SELECT max(len(l)) FROM (SELECT list(x) l FROM range(400000000) t(x)))>0"}, {}),
            ("where: 10^10-row cross join", "api/runs",
             {"where": "(SELECT sum(a.range * b.range % 7) FROM range(100000) a, range(100000) b) > 0"}, {}),
            ("where from another site (no-cors)", "api/runs", {"where": "true"},
             {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}),
            ("DNS rebinding (Host: evil.example)", "api/runs", {}, {"Host": "evil.example:80"}),
            (f"series: {min(args.runs, 1000)} runs × {args.steps:,} steps, width 8192", "api/series",
             {"runs": everyone, "metric": "train/loss", "width": "8192"}, {}),
            (f"groups: {min(args.runs, 1000)} runs, width 8192", "api/groups",
             {"runs": everyone, "metric": "train/loss", "width": "8192", "by": "strategy"}, {}),
            (f"run page of a {args.table_rows:,}-row table", "api/run/heavy/table-1", {}, {}),
            ("live catch-up from step -1, 50k points, width 16", "api/live",
             {"runs": "live/live-1", "metric": "train/loss", "after": "live/live-1:-1", "width": "16"}, {}),
            ("malformed: width 10^9", "api/series", {"runs": "live/live-1", "metric": "train/loss",
                                                    "width": "1000000000"}, {}),
            ("malformed: run ../../etc/passwd", "api/run/..%2F..%2Fetc/passwd", {}, {}),
            ("malformed: 5,000 runs", "api/series", {"runs": ",".join(f"a/{i}" for i in range(5000)),
                                                      "metric": "train/loss"}, {}),
        ]
        rows = []
        for name, path, params, headers in attacks:
            before = _cpu(server.pid)
            t = time.perf_counter()
            status, size = _request(url + path + ("?" + urllib.parse.urlencode(params) if params else ""), headers)
            wall = time.perf_counter() - t
            rss, peak = _memory(server.pid)
            rows.append((name, status, size, wall, _cpu(server.pid) - before, rss, peak))
        cross = attacks[2][2]["where"]
        before = _cpu(server.pid)
        _leave_after(url, "api/runs?" + urllib.parse.urlencode({"where": cross}), 1.0)
        left = _cpu(server.pid) - before
        before = _cpu(server.pid)
        time.sleep(3)
        idle = _cpu(server.pid) - before
    finally:
        for proc in (server, writer):
            if proc is not None:
                proc.kill()
                proc.wait()
    print(f"machine: {machine()}")
    print(f"store: {args.runs:,} runs × {args.steps:,} steps, a {args.table_rows:,}-row table, a live run of "
          f"50,000 points\n")
    print("| request | status | answer | wall | server CPU | server RSS after | server peak (VmHWM) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, status, size, wall, cpu, rss, peak in rows:
        print(f"| {name} | {status} | {size / 1024:,.0f} KiB | {wall:.2f} s | {cpu:.2f} s | {rss:.0f} MiB | "
              f"{peak:.0f} MiB |")
    print(f"\nthe cross join again, its client gone after 1 s: {left:.2f} s of server CPU in that second; "
          f"server CPU in the 3 s after it left: {idle:.2f} s")


def _request(url: str, headers: dict) -> tuple[int, int]:
    """(status, bytes of the answer); an event stream is read up to its first message, then left."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                size, data = 0, False
                for line in response:  # skips the stream's retry line and keep-alive comments
                    size += len(line)
                    data = data or line.startswith(b"data:")
                    if data and not line.strip():  # the end of the first message
                        break
                return response.status, size
            return response.status, len(response.read())
    except urllib.error.HTTPError as e:
        return e.code, len(e.read())


def _leave_after(url: str, path: str, seconds: float) -> None:
    """Send a request and close the connection after ``seconds`` without reading the answer."""
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    with socket.create_connection((host, port)) as sock:
        sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        time.sleep(seconds)


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process and the threads it has, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ = 100)


def _memory(pid: int) -> tuple[float, float]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


if __name__ == "__main__":
    main()
