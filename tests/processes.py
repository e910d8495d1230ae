"""Ending the processes a test starts, whatever happens to it."""

from __future__ import annotations

import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path


def wait_all(procs: list[subprocess.Popen], timeout: float) -> list[int]:
    """Each process's exit code, in order; when a wait fails, every process still running is killed."""
    try:
        return [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def interrupt(proc: subprocess.Popen, timeout: float = 10) -> int:
    """Ctrl+C for a process (a server, a follower), then a kill if it has not ended within ``timeout``."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@contextmanager
def ended(proc: subprocess.Popen):
    """The block's process, killed if it is still running when the block is left (a failed wait, an assert)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for_progress(store: Path, reached, seconds: float) -> None:
    """Until the store's first run has got as far as ``reached(run)`` says (or ``seconds`` pass): a training
    process is interrupted only once it is well under way."""
    from ol.store.read.listing import scan_runs

    deadline = time.time() + seconds
    while time.time() < deadline:
        runs = scan_runs(store) if Path(store).is_dir() else []
        if runs and reached(runs[0]):
            return
        time.sleep(0.05)
