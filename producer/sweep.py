"""Sweeps: a grid of strategies × seeds × settings, one worker process per point (producer/worker.py; plans:
store/read/sweep_plans.py).

A sweep's plan (experiment, points, the settings every point shares) is written once, at its start,
to ``<store>/.sweeps/<name>.json``; nothing else about a sweep is stored anywhere but in its runs:
each carries the sweep name as its group and its point's index. So the status of a sweep is read
from the catalog, and finishing one (``resume``) is: skip the points whose run completed, resume
those with a checkpoint, start the rest. Each run writes only its own directory; any number of
processes run a sweep without coordination.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ol.errors import UsageError
from ol.producer.environment import JOB_OUTPUT
from ol.producer.options import Option, check_names
from ol.store.log.derived import ensure_dir
from ol.store.log.rundir import check_name
from ol.store.log.sharing import share_file
from ol.store.read.listing import RunInfo, run_info, scan_runs
from ol.store.read.sweep_plans import SWEEPS_DIR, Plan, Point
from ol.store.read.sweep_status import newest_runs

CLOCK_SLACK = 60.0  # seconds: clocks of machines sharing a store may disagree this much
RUNNING_POLL = 2.0  # seconds between looks at a point's run that another process is still writing


def expand(strategies: list[str], seeds: list[int], grid: dict[str, list]) -> list[Point]:
    """The Cartesian product, strategies outermost, so each strategy's seeds finish together."""
    keys = list(grid)
    return [Point(s, n, tuple(zip(keys, values, strict=True)))
            for s, n, values in itertools.product(strategies, seeds, itertools.product(*grid.values()))]


def parse_seeds(spec: str) -> list[int]:
    """'0-4' or '0,2,7' or '3'."""
    try:
        out: list[int] = []
        for part in spec.split(","):
            lo, dash, hi = part.strip().partition("-")
            out += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    except ValueError:
        raise UsageError(f"sweep: --seeds takes a range or a list, e.g. 0-4 or 0,2,7; got {spec!r}") from None
    if not out or min(out) < 0:
        raise UsageError(f"sweep: --seeds {spec!r} names no seed (seeds are ≥ 0)")
    return list(dict.fromkeys(out))


def parse_grid(items: list[str], options: dict[str, Option], experiment: str) -> dict[str, list]:
    """``KEY=V1,V2,…`` items as each experiment option's values, in its type (a value given twice, or spelled
    twice — 1e-3 and 0.001 — is one point)."""
    grid: dict[str, list] = {}
    for item in items:
        key, eq, values = item.partition("=")
        key = key.strip().removeprefix("--").replace("-", "_")
        listed = [v.strip() for v in values.split(",") if v.strip()]
        if not eq or not key or not listed:
            raise UsageError(f"sweep: --grid takes KEY=V1,V2,…, got {item!r}")
        if key in grid:
            raise UsageError(f"sweep: --grid {key} given twice; list all its values once")
        check_names(options, [key], "sweep: --grid ", experiment)
        grid[key] = list(dict.fromkeys(options[key].convert(v, "sweep: --grid ") for v in listed))
    return grid


def runs_of(store: Path, plan: Plan, only: Point | None = None) -> dict[Point, RunInfo]:
    """The newest run of each point of a sweep (or of ``only``), read from the runs' logs: a training process
    never writes the index (readers ask the read model, store/read/sweep_status.py)."""
    if not Path(store).is_dir():
        return {}
    found = newest_runs(plan, scan_runs(store, experiment=plan.experiment))
    return found if only is None else {p: i for p, i in found.items() if p == only}


@dataclass
class Progress:
    """How far a sweep is: points finished plus the finished share of running ones (for an ETA that moves
    while long runs train), and the running point furthest behind (epochs done, planned)."""

    done: float
    slowest: tuple[int, int | None] | None = None


def finished(state: dict[Point, str]) -> int:
    """How many points of a sweep's state have ended (completed, failed or interrupted)."""
    return sum(s in ("completed", "failed", "interrupted") for s in state.values())


class ProgressWatch:
    """Reads where a sweep's running points are from their runs (every executor writes the store), looking
    up the catalog only for a point it has not seen a run of yet, and each running run's tail after that."""

    def __init__(self, store: Path, plan: Plan):
        self.store, self.plan = Path(store), plan
        self.dirs: dict[Point, Path] = {}

    def look(self, state: dict[Point, str]) -> Progress:
        running = [p for p, s in state.items() if s == "running"]
        ended = finished(state)
        if any(p not in self.dirs for p in running):
            self.dirs.update({p: i.dir for p, i in runs_of(self.store, self.plan).items()})
        shares, slowest = [], None
        for point in running:
            info = run_info(self.dirs[point]) if point in self.dirs else None
            if info is not None and info.status not in ("running", "crashed"):
                self.dirs.pop(point)  # an earlier run of this point: its new one is looked up next time
                info = None
            epochs = 0 if info is None or info.last_epoch is None else info.last_epoch + 1
            planned = None if info is None else info.contract.total_epochs
            shares.append(min(1.0, epochs / planned) if planned else 0.0)
            if slowest is None or epochs < slowest[0]:
                slowest = (epochs, planned)
        return Progress(ended + sum(shares), slowest)


@dataclass
class PointRun:
    point: Point
    action: str  # started, resumed, skipped
    returncode: int
    seconds: float


def command(plan: Plan, point: Point, store: Path, resume_dir: Path | None) -> list[str]:
    """The worker process that trains ``point`` (or continues its run in ``resume_dir``) from the saved plan."""
    resume = ["--resume", str(resume_dir)] if resume_dir is not None else []
    return [sys.executable, "-m", "ol.producer.worker", str(store), plan.name, str(plan.points.index(point)), *resume]


def run_local(plan: Plan, store: Path, jobs: int, threads_per_run: int,
              on_change: Callable[[dict[Point, str]], None] | None = None,
              stop: threading.Event | None = None) -> list[PointRun]:
    """Run (or finish) a sweep on this machine: ``jobs`` worker processes at a time, each limited to
    ``threads_per_run`` threads so the workers do not oversubscribe the cores."""
    existing = runs_of(store, plan)
    state = {p: "completed" if (i := existing.get(p)) is not None and i.status == "completed" else "queued"
             for p in plan.points}
    lock = threading.Lock()
    children: set[subprocess.Popen] = set()

    def report(point: Point, what: str) -> None:
        with lock:
            state[point] = what
            snapshot = dict(state)
        if on_change:
            on_change(snapshot)

    def one(point: Point) -> PointRun:
        if stop is not None and stop.is_set():
            return PointRun(point, "skipped", 130, 0.0)
        started = time.monotonic()
        action, code = run_point(plan, point, store, threads_per_run, existing.get(point),
                                 on_start=lambda child: track(child, point))
        report(point, state_of(code))
        with lock:
            children.difference_update(c for c in list(children) if c.poll() is not None)
        return PointRun(point, action, code, time.monotonic() - started)

    def track(child: subprocess.Popen, point: Point) -> None:
        with lock:
            children.add(child)
        report(point, "running")

    if on_change:
        on_change(dict(state))
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="ol-sweep")
    try:
        futures = [pool.submit(one, p) for p in plan.points]
        return [f.result() for f in futures]
    except BaseException:
        if stop is not None:
            stop.set()
        with lock:
            for proc in children:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)  # each run ends as interrupted, with its emergency checkpoint
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_point(plan: Plan, point: Point, store: Path, threads: int, info: RunInfo | None,
              on_start: Callable[[subprocess.Popen], None] | None = None) -> tuple[str, int]:
    """Run or finish one point, wherever it executes (a worker here, a Slurm task, a Ray task): skip it if
    its run completed, resume it if the run has a checkpoint, else start it. (action, exit code).

    A run still being written (the process of an earlier attempt, orphaned when a scheduler killed its
    parent) is waited for, so a retried task never fights it for the run's lock."""
    looked = time.time()  # the caller's ``info`` was read before this
    with claim(store, plan, point) as held:
        if held.ended_at is not None and held.ended_at >= looked - CLOCK_SLACK:  # run by another since: look again
            info = runs_of(store, plan, only=point).get(point)
        while info is not None and info.status == "running":
            time.sleep(RUNNING_POLL)
            info = run_info(info.dir)
        if info is not None and info.status == "completed":
            return "skipped", 0
        resume_dir = info.dir if info is not None and has_checkpoint(info) else None
        log = point_log(store, plan, point)
        with append_point_log(log) as out:
            child = subprocess.Popen(command(plan, point, Path(store), resume_dir), stdout=out, stderr=out,
                                     env={**thread_env(threads), JOB_OUTPUT: str(log.resolve())})
            if on_start:
                on_start(child)
            code = child.wait()
        held.ended(code)
        return ("resumed" if resume_dir else "started"), code


def point_log(store: Path, plan: Plan, point: Point) -> Path:
    """Where a point's worker writes its stdout and stderr (the run names it as its output file)."""
    return Path(store) / SWEEPS_DIR / plan.name / (slug(point) + ".log")


def append_point_log(log: Path):
    """The point's output file opened to append (created if need be, never through a link), with the store's
    group modes (a lab's store: the group reads every point's output)."""
    out = os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644), "ab")
    share_file(out.fileno(), log.parent)
    return out


class Claim:
    """A point held by this process: when a process last finished running it, and how to say it has."""

    def __init__(self, fd: int):
        self._fd = fd
        recorded = os.pread(fd, 64, 0).decode(errors="replace").split()  # "<exit code> <unix time>"
        try:
            self.ended_at: float | None = float(recorded[1])
        except (IndexError, ValueError):
            self.ended_at = None

    def ended(self, code: int) -> None:
        """Record for the next process that claims the point that its run ended now, with ``code``."""
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{code} {time.time()}".encode(), 0)


@contextmanager
def claim(store: Path, plan: Plan, point: Point):
    """Hold ``point`` for this process (an flock, so two `ol sweep --resume`, or a retried Slurm task, never
    train it twice at once; on another machine of a shared filesystem as far as its locks work)."""
    folder = ensure_dir(store, SWEEPS_DIR, plan.name, group_writes=True)  # never through a link planted in a store
    fd = os.open(folder / (slug(point) + ".claim"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        share_file(fd, folder, group_writes=True)
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits while another process trains this point
        yield Claim(fd)
    finally:
        os.close(fd)


def state_of(code: int | None) -> str:
    """A point's state from its worker's exit code (None: still running)."""
    return "running" if code is None else "completed" if code == 0 else "interrupted" if code == 130 else "failed"


def thread_env(threads: int) -> dict[str, str]:
    """The environment of a point's process: torch and BLAS limited to ``threads`` threads."""
    return {**os.environ, **{v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}


def has_checkpoint(info: RunInfo) -> bool:
    return (info.dir / "checkpoints").is_dir() and any((info.dir / "checkpoints").iterdir())


def slug(point: Point) -> str:
    raw = "-".join([point.strategy, f"seed{point.seed}", *(f"{k}{v}" for k, v in point.settings.items())])
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in raw)[:120]


def default_name(experiment: str) -> str:
    return check_name("sweep name", f"{experiment}-sweep-{time.strftime('%Y%m%d-%H%M%S')}")
