"""A long-lived reader of one store (the dashboard's server, a notebook kept open): the runs now, and each
run's data asked for the same way whatever state the run is in.

Whether a run is read from its log or from the index is the snapshot's business (store/read/snapshot.py) and
stays in here: a run read from its log is followed by store/read/live.py (only the frames written since the last
ask are read), a sealed run's series are read from its batch's series file chunk by chunk
(store/read/series_cache.py). A reader gets a run's record, curves, tables and progress — never a path to read
or a "live?" to branch on — so a curve read while its run is live equals the one read after it sealed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ol.store.errors import StoreError
from ol.store.log.reader import damage_summary
from ol.store.read.downsample import downsample
from ol.store.read.listing import paused_gc
from ol.store.read.live import LiveRun
from ol.store.read.series import TIME, X_AXES, Series, plan
from ol.store.read.series_cache import CACHE_BYTES, SeriesCache
from ol.store.read.snapshot import Snapshot, open_snapshot

if TYPE_CHECKING:
    import pyarrow as pa

    from ol.store.read.listing import RunInfo


class Progress(NamedTuple):
    """How far a run has got, for a reader that draws it as it goes: its last step, how many times a resume
    took back points already read (a page redraws then), and its status now."""

    last_step: int | None
    resets: int
    status: str


class StoreReader:
    """Thread-safe. ``refresh()`` reads the store's runs now; the rest answers about a run of the last refresh —
    or, given a ``snapshot`` (a query's), about the runs of that snapshot it is asked about, and only those."""

    def __init__(self, store: Path, cache_bytes: int = CACHE_BYTES, snapshot: Snapshot | None = None):
        self.store = Path(store)
        self.snapshot: Snapshot | None = snapshot
        self.warnings: list[str] = []
        self.cache = SeriesCache(cache_bytes)
        self._runs: list[RunInfo] = []
        self._by_key: dict[str, RunInfo] = {}
        self._live: dict[str, LiveRun] = {}  # by run directory: followers outlive snapshots
        self._series: dict[tuple, tuple] = {}  # a sealed run's (series file, its index), by directory and batch
        self._batch: dict[str, str | None] = {}  # the batch holding each run, by directory (None: read from its log)
        self._records: dict = {}  # decoded catalog records, reused while their row is unchanged
        self._lock = threading.RLock()

    # the runs ------------------------------------------------------------------------------------

    def refresh(self) -> list[RunInfo]:
        """Every run now, each record folded whole, with its metric summaries and damage (a live run's from its log)."""
        if not self.store.is_dir():
            self._runs, self._by_key = [], {}
            return []
        with self._lock:
            snap = open_snapshot(self.store, records=self._records, previous=self.snapshot)
            self.snapshot, self.warnings = snap, snap.warnings
            followed = {}
            with paused_gc():  # thousands of small objects made at once: the collector would only walk them
                for info in snap.runs:
                    if snap.from_log(info):
                        live = followed[str(info.dir)] = self._follower(info.dir)
                        info.summaries, info.damage = live.summaries(), live.problems()
                        info.adopt(live.folded())
                    else:
                        snap.summaries(info)
                self._live = followed  # a run sealed since is read from the index from now on
                self._batch = {str(info.dir): snap.batch_of(info) for info in snap.runs}
                current = {self._series_key(info) for info in snap.runs if str(info.dir) not in followed}
                self._series = {k: v for k, v in self._series.items() if k in current}  # indexed again: read anew
                self._runs = snap.runs
                self._by_key = {info.key: info for info in self._runs}
            return self._runs

    @property
    def empty(self) -> bool:
        return not self._runs

    def run(self, key: str) -> RunInfo | None:
        """The run named ``experiment/run_id`` (the store read again if it is not known yet), or None."""
        with self._lock:
            info = self._by_key.get(key)
        if info is None:
            self.refresh()
            info = self._by_key.get(key)
        return info

    def stamp(self, info: RunInfo) -> tuple:
        """Where the run's data is now: it changes when the run is sealed or indexed again (a new batch)."""
        return self._batch_of(info) or "log", str(info.dir)

    def problem(self, info: RunInfo) -> str:
        """One line on what could not be read of the run ("" when nothing)."""
        problems = info.problems()
        return damage_summary(info.run_id, problems) if problems else ""

    def progress(self, info: RunInfo) -> Progress:
        live = self._following(info)
        if live is None:
            return Progress(info.last_step, 0, info.status)
        return Progress(live.last_step, live.resets, live.status())

    def metric_names(self, info: RunInfo) -> list[str]:
        live = self._following(info)
        return live.keys() if live is not None else [k for k in info.summaries if k != TIME]

    # curves ----------------------------------------------------------------------------------------

    def load_series(self, infos: list[RunInfo]) -> None:
        """Read the series indexes of those of these sealed runs not read yet, in one catalog query (a chart of
        1,000 runs); a reader about to read many runs' curves on several threads calls this first."""
        snap = self._snap()
        wanted = [i for i in infos if self._batch_of(i) is not None and self._series_key(i) not in self._series]
        if wanted:
            found = snap.series(wanted)
            with self._lock:
                for info in wanted:
                    self._series[self._series_key(info)] = found.get(str(info.dir), ())

    def series(self, info: RunInfo, metric: str, keep: bool = False) -> Series | None:
        """Every point of a metric (by default read without filling the cache: means over seeds read each run
        once)."""
        live = self._following(info)
        if live is not None:
            return live.series(metric)
        levels = self._levels(info, metric)
        found = None if levels is None else self._read(info, levels[0], keep)
        return None if found is None else Series(*found, [])

    def curve(self, info: RunInfo, metric: str, x: str, x0: float | None, x1: float | None, width: int):
        """(x, y) of a metric with at most ≈ 4 points per pixel column over [x0, x1] (default: everything):
        a sealed run's read from the coarsest level that has enough points, only the chunks of the range."""
        levels = self._levels(info, metric)
        if levels is None or x not in X_AXES:  # read from its log (or over another metric): all points at hand
            s = self.series(info, metric)
            if s is None:
                return None
            return _window(*self.to_x(info, x, s.step, s.epoch, s.value), x0, x1, width)
        first, last = _span(levels)
        if x == "step":
            s0, s1 = (first if x0 is None else x0), (last if x1 is None else x1)
        else:  # the x range as a step range, from the coarsest level (it has every group's ends)
            coarse = self._read(info, levels[-1])
            if coarse is None:
                return None
            xs, _ = self.to_x(info, x, *coarse)
            steps = coarse[0][~np.isnan(coarse[1])] if x == "epoch" else coarse[0]
            s0, s1 = _step_range(xs, steps, x0, x1, first, last)
        found = self._read(info, plan(levels, s0, s1, width)[1])
        if found is None:
            return None
        return _window(*self.to_x(info, x, *found), x0, x1, width)

    def extent(self, info: RunInfo, metric: str, x: str) -> tuple[float, float] | None:
        """The first and last x of a metric (a sealed run's from its coarsest level, which keeps every group's
        ends)."""
        levels = self._levels(info, metric)
        if levels is None:
            found = self.points(info, metric, x)
        else:
            coarse = self._read(info, levels[-1])
            found = None if coarse is None else self.to_x(info, x, *coarse)
        if found is None or not len(found[0]):
            return None
        return float(found[0][0]), float(found[0][-1])

    def points(self, info: RunInfo, metric: str, x: str):
        """Every point of a metric on the x axis, as (x, y); None when the run did not log it."""
        s = self.series(info, metric)
        return None if s is None else self.to_x(info, x, s.step, s.epoch, s.value)

    def to_x(self, info: RunInfo, x: str, step, epoch, value):
        """Points on the x axis: step, epoch (points logged without one have no place there), time (the run's
        clock, resumed stretches end to end: the ``TIME`` series) or another metric of the run (``is_x_axis``)."""
        if x == "step":
            return step, value
        if x == "epoch":
            keep = ~np.isnan(epoch)
            return epoch[keep], value[keep]
        if x == "time":
            clock = self.series(info, TIME, keep=True)  # asked for at every chart over time: kept
            if clock is None or not len(clock.step):
                return np.zeros(0), np.zeros(0)
            return np.interp(step, clock.step, clock.value), value
        # another metric (a step metric): its last value at or before each point's step; points before its first
        # have no place; in the axis' order, as a chart over it is drawn
        axis = self.series(info, x, keep=True)
        if axis is None or not len(axis.step):
            return np.zeros(0), np.zeros(0)
        at = np.searchsorted(axis.step, step, side="right") - 1
        xs, ys = axis.value[at[at >= 0]], np.asarray(value)[at >= 0]
        order = np.argsort(xs, kind="stable")
        return xs[order], ys[order]

    # tables ----------------------------------------------------------------------------------------

    def table(self, info: RunInfo, table: str, columns: list[str] | None = None) -> pa.Table:
        """One of a run's tables (only ``columns``, when given); empty when it cannot be read."""
        return self.tables([info], table, columns)

    def tables(self, infos: list[RunInfo], table: str, columns: list[str] | None = None) -> pa.Table:
        """A table's rows of these runs: each batch file read once for all of its runs asked, a run not sealed
        from its log now."""
        import pyarrow as pa

        from ol.store.read.tables import EMPTY_SCHEMAS

        snap = self._snap()
        parts = [snap.sealed_table(infos, table, columns)]
        for info in infos:
            if snap.batch_of(info) is None:
                try:
                    found = snap.log_tables(info)[table]
                except (StoreError, OSError):
                    continue
                parts.append(found.select(columns) if columns else found)
        parts = [p for p in parts if p.num_rows] or [EMPTY_SCHEMAS[table].empty_table().select(
            columns or EMPTY_SCHEMAS[table].names)]
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="default")

    # inside ----------------------------------------------------------------------------------------

    def _snap(self) -> Snapshot:
        if self.snapshot is None:
            self.refresh()
        return self.snapshot

    def _follower(self, run_dir: Path) -> LiveRun:
        live = self._live.get(str(run_dir))
        if live is None:
            live = LiveRun(run_dir)
        live.poll()
        return live

    def _following(self, info: RunInfo) -> LiveRun | None:
        """The run's follower, up to date, when the run is read from its log (a reader given a snapshot starts
        one when first asked; a refresh starts one for every such run)."""
        key = str(info.dir)
        live = self._live.get(key)
        if live is None and key not in self._batch and self._snap().from_log(info):
            with self._lock:
                live = self._live.setdefault(key, LiveRun(info.dir))
        if live is not None:
            live.poll()
        return live

    def _batch_of(self, info: RunInfo) -> str | None:
        key = str(info.dir)
        return self._batch[key] if key in self._batch else self._snap().batch_of(info)

    def _series_key(self, info: RunInfo) -> tuple:
        return str(info.dir), self._batch_of(info)

    def _levels(self, info: RunInfo, metric: str):
        self.load_series([info])
        found = self._series.get(self._series_key(info))
        entry = found[1].get(metric) if found else None
        return None if entry is None else entry["levels"]

    def _read(self, info: RunInfo, chunks: list[list[int]], keep: bool = True):
        found = self._series.get(self._series_key(info))
        return self.cache.read(found[0], chunks, keep) if found else None


def _window(xs, ys, x0, x1, width):
    if not len(xs):
        return xs, ys
    return downsample(xs, ys, xs[0] if x0 is None else x0, xs[-1] if x1 is None else x1, width)


def _span(levels) -> tuple[int, int]:
    chunks = [c for c in levels[0] if c[2]]
    return (chunks[0][3], chunks[-1][4]) if chunks else (0, 0)


def _step_range(xs, steps, x0, x1, first, last) -> tuple[float, float]:
    """The steps whose x lies in [x0, x1], widened to the neighbouring coarse points (x is monotone in
    step, so the true range lies between them)."""
    if not len(xs):
        return first, last
    lo = first if x0 is None else steps[max(np.searchsorted(xs, x0, side="left") - 1, 0)]
    hi = last if x1 is None else steps[min(np.searchsorted(xs, x1, side="right"), len(steps) - 1)]
    return float(lo), float(hi)
