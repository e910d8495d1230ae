"""A run's directory: its layout, run ids, and the one-writer lock.

    <store>/<experiment>/<run_id>/
        log/          segments: the source of truth
        checkpoints/  artifacts/  .cache/   (derived or written by producers)
        .lock         flock'ed by the single writer; holds who that is
        ranks/N/      rank N's own stream (log/ and .lock) when the run spans processes (torchrun)
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import socket
import time
from pathlib import Path

from ol.store.errors import RunLocked, StoreError
from ol.store.log.sharing import share_file

LOG_DIR = "log"
LOCK_FILE = ".lock"
CACHE_DIR = ".cache"
RANKS_DIR = "ranks"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOCK_RETRY_SECONDS = 1.0  # rides out a reader's momentary probe of the lock


def new_run_id(now: float | None = None) -> str:
    """Sortable by start time, unique without coordination: 20261122-020426-3fa9c1."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    return f"{stamp}-{secrets.token_hex(3)}"


def plain_name(value: str) -> bool:
    """Whether a name may become a directory or file name: letters, digits, '.', '_', '-', at most 64."""
    return bool(_NAME_RE.match(value or ""))


def check_name(kind: str, value: str) -> str:
    """Experiment names and run ids become directory names: keep them plain."""
    if not plain_name(value):
        raise StoreError(
            f"store: {kind} {value!r} is not a valid name; use letters, digits, '.', '_' or '-' "
            "(at most 64, not starting with a symbol)"
        )
    return value


def run_path(store: Path, experiment: str, run_id: str) -> Path:
    return Path(store) / check_name("experiment", experiment) / check_name("run id", run_id)


def log_path(run_dir: Path) -> Path:
    return Path(run_dir) / LOG_DIR


def rank_dir(run_dir: Path, rank: int) -> Path:
    """The directory of rank ``rank``'s stream: the run's own for rank 0, else ``ranks/N`` (a log and a
    writer lock of its own, so every stream keeps one writer)."""
    return Path(run_dir) if rank == 0 else Path(run_dir) / RANKS_DIR / str(rank)


def other_ranks(run_dir: Path) -> list[tuple[int, Path]]:
    """(rank, stream directory) of every rank but 0 that has a stream in this run, by rank."""
    folder = Path(run_dir) / RANKS_DIR
    if not folder.is_dir():
        return []
    found = [(int(p.name), p) for p in folder.iterdir() if p.name.isdigit() and is_run_dir(p)]
    return sorted(found)


def is_run_dir(path: Path) -> bool:
    return (Path(path) / LOG_DIR).is_dir()


class WriterLock:
    """Exclusive flock on ``<run>/.lock``; the file names the holder for the error others get."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        share_file(fd, self.path.parent)  # colleagues' readers probe it to see the run is live
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    holder = _describe_holder(fd)
                    os.close(fd)
                    if e.errno in (errno.EAGAIN, errno.EACCES):
                        raise RunLocked(self.path.parent, holder) from None
                    raise
                time.sleep(0.05)
        # we hold the lock: rewriting its (derived) content is safe
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        announce_writer(self.path.parent)
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def announce_writer(stream_dir: Path) -> None:
    """Touch the mtime of the run's experiment directory: the store's index lists an experiment again only
    when that changes, so this is how a run opened again for writing (a resume, a rank joining) is noticed
    without the index stat'ing every run. Nothing is written; on failure (a read-only parent) the run still
    records, and `ol index --check` finds the change."""
    stream_dir = Path(stream_dir)
    run_dir = stream_dir.parent.parent if stream_dir.parent.name == RANKS_DIR else stream_dir
    try:
        os.utime(run_dir.parent)
    except OSError:
        pass


def _describe_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"]))
        return f"pid {info['pid']} on {info['host']} (since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def writer_active(run_dir: Path) -> bool:
    """True while some process holds the run's writer lock (probe with a shared lock)."""
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
