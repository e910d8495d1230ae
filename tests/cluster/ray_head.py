"""A Ray cluster as a cluster's operator starts one: `ray start --head` on free ports, in its own temporary folder
(so no other test's `ray.init()` finds and joins it), ended with the test — every daemon `ray start` left behind
shares the process group it was started in, which is ended whole."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import pytest

PORTS = ("--port", "--ray-client-server-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
         "--runtime-env-agent-port", "--metrics-export-port", "--node-manager-port", "--object-manager-port")


@contextmanager
def ray_head(cpus: int = 2):
    """Yields (address, env): the head's GCS address, and an environment whose Ray clients may connect to it."""
    pytest.importorskip("ray", reason="Ray is not installed here: pip install 'ol[ray]'")
    ports = _free_ports(len(PORTS))
    folder = tempfile.mkdtemp(prefix="olray", dir="/tmp")  # short: Ray's socket paths live under it
    # token authentication, which Ray turns on for a local head, and clients that ask for it: as on a real cluster
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    args = [f"{flag}={port}" for flag, port in zip(PORTS, ports, strict=True)]
    ray = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]  # this Python's Ray
    start = subprocess.Popen([*ray, "start", "--head", f"--num-cpus={cpus}", "--include-dashboard=false",
                              "--disable-usage-stats", f"--temp-dir={folder}", *args], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = start.communicate(timeout=180)
        assert start.returncode == 0, f"ray start --head failed:\n{out[-3000:]}"
        yield f"127.0.0.1:{ports[0]}", env
    finally:
        if start.poll() is None:
            start.kill()
        _end_group(start.pid)
        shutil.rmtree(folder, ignore_errors=True)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:  # all bound at once, so no two are the same
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _end_group(group: int) -> None:
    """End every process of the group (the head's daemons and their workers): SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + 10
        while time.time() < deadline and _alive(group):
            time.sleep(0.2)


def _alive(group: int) -> bool:
    for proc in os.listdir("/proc"):
        if proc.isdigit():
            try:
                with open(f"/proc/{proc}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":
                return True
    return False
