"""A live run's metrics, kept up to date from its log by the one follower (store/log/follow.py).

Each ``poll()`` reads only the frames written since the last one and appends their points; nothing
is re-read. The resume rule is applied as events arrive: a resume marker at step s drops every point
held past s (``survives``), and bumps ``resets`` so a page that already drew them asks again.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from ol.schemas import RunResumed, Step, scalar_points
from ol.store.log.columns import StepColumns, decode_arrays
from ol.store.log.follow import Follower
from ol.store.read.fold import RunFold
from ol.store.read.projection import survives
from ol.store.read.record import RunInfo
from ol.store.read.series import TIME, Series, cumulative_time, metric_key, summary

POLL_SECONDS = 0.05  # a poll within this long of the last one returns at once: many pages, one read


class _Growing:
    """Appendable step / epoch / value columns (chunks joined only when read)."""

    def __init__(self):
        self.chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._joined: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def append(self, step, epoch, value) -> None:
        self.chunks.append((np.asarray(step, np.int64), np.asarray(epoch, np.float64), np.asarray(value, np.float64)))
        self._joined = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._joined is None:
            if not self.chunks:
                empty = np.zeros(0)
                self._joined = (empty.astype(np.int64), empty, empty)
            else:
                parts = list(zip(*self.chunks, strict=True))
                step, epoch, value = (np.concatenate(p) for p in parts)
                order = np.argsort(step, kind="stable")  # epoch and hook events may land after later steps
                self._joined = (step[order], epoch[order], value[order])
            self.chunks = [self._joined]
        return self._joined

    def truncate(self, last_step: int) -> None:
        step, epoch, value = self.arrays()
        keep = survives(step, last_step)  # the resume rule (ol.store's projection), on every point held
        self.chunks, self._joined = [(step[keep], epoch[keep], value[keep])], None


class LiveRun:
    """Follows one run's log; thread-safe."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self._follower = Follower(self.dir)
        self._series: dict[str, _Growing] = {}
        self._lock = threading.Lock()
        self._polled = 0.0
        self.resets = 0
        self.last_step: int | None = None
        self._fold = RunFold()  # the run's record (its best, its target), folded as its events arrive

    def poll(self) -> None:
        with self._lock:
            if time.monotonic() - self._polled < POLL_SECONDS:
                return
            for frame in self._follower.frames():
                for item in frame.items:
                    if type(item) is StepColumns:
                        self._block(item)
                    elif item is not None:
                        self._event(item)
            self._polled = time.monotonic()

    def status(self) -> str:
        with self._lock:
            return self._follower.status()

    def series(self, key: str) -> Series | None:
        with self._lock:
            grown = self._series.get(key)
            if grown is None:
                return None
            step, epoch, value = grown.arrays()
            if not len(step):  # every point of it was past a resume: as for a sealed run, it was never logged
                return None
        if key == TIME:
            value = cumulative_time(value)
        return Series(step, epoch, value, [])

    def keys(self) -> list[str]:
        with self._lock:
            return [k for k, grown in self._series.items() if k != TIME and len(grown.arrays()[0])]

    def summaries(self) -> dict[str, dict]:
        return {k: summary(s) for k in self.keys() if (s := self.series(k)) is not None and len(s.step)}

    def folded(self) -> RunInfo:
        """What the fold of the log so far found (a record to ``adopt``)."""
        with self._lock:
            return self._fold.record

    def problems(self) -> list[str]:
        with self._lock:
            return self._follower.report.problems()

    # folding ---------------------------------------------------------------------------------

    def _add(self, key: str, step, epoch, value) -> None:
        self._series.setdefault(key, _Growing()).append(step, epoch, value)

    def _block(self, block: StepColumns) -> None:
        own, cols = decode_arrays(block)
        step = own["step"]
        epoch = own["epoch"].astype(np.float64) if own["epoch"] is not None else np.full(block.n, np.nan)
        for name in block.names:
            self._add(metric_key("train", name), step, epoch, cols[name])
        main = self._fold.record.contract.main_metric.removeprefix("train/")
        if main in block.names:
            self._fold.add_points(step.tolist(), [None if np.isnan(e) else e for e in epoch.tolist()],
                                  cols[main].tolist())
        self._add(TIME, step, np.full(block.n, np.nan), own["time"])
        self._saw_step(int(step[-1]) if block.n else None)

    def _event(self, event) -> None:
        kind = type(event)
        self._fold.add(event)
        for source, name, value in scalar_points(event):
            self._add(metric_key(source, name), [event.step], [np.nan if event.epoch is None else event.epoch],
                      [value])
        if kind is Step:
            self._add(TIME, [event.step], [np.nan], [event.time])
            self._saw_step(event.step)
        elif kind is RunResumed:
            for grown in self._series.values():
                grown.truncate(event.step)
            self.resets += 1
            self.last_step = event.step

    def _saw_step(self, step: int | None) -> None:
        if step is not None and (self.last_step is None or step > self.last_step):
            self.last_step = step
