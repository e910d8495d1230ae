"""Ending the processes a test starts, whatever happens to it."""

from __future__ import annotations

import signal
import subprocess
from contextlib import contextmanager


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
