"""Curves for the dashboard: a metric of a run as (x, y) for a chart of a given width and range.

Sealed runs are read from their batch's ``series.arrow`` chunk by chunk: a chart of the whole run reads
the coarsest level that has enough points; a zoom reads only the chunks of the range. Decoded
chunks stay in a cache bounded in bytes, so the server's memory does not grow with the store or
with the number of runs on screen. Running runs come from their LiveRun (all points in memory).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from ol.consumers.ui.data import Entry, StoreView
from ol.store import TIME, Series, SeriesFile, join, part, plan
from ol.store import downsample_xy as downsample

# decoded record batches kept between requests: 64 MiB drew no faster (bench/workspace_bench.py) and held 37 MiB
# more with 1,000 runs charted
CACHE_BYTES = 32 * 2**20
OPEN_FILES = 256


class Curves:
    def __init__(self, view: StoreView, cache_bytes: int = CACHE_BYTES):
        self.view = view
        self._chunks: OrderedDict[tuple, tuple] = OrderedDict()
        self._files: OrderedDict[tuple, SeriesFile] = OrderedDict()
        self._budget, self._held = cache_bytes, 0
        self._lock = threading.Lock()

    # what a chart asks for -------------------------------------------------------------------

    def curve(self, entry: Entry, metric: str, x: str, x0: float | None, x1: float | None, width: int):
        """(x, y) with at most ≈ 4 points per pixel column over [x0, x1] (default: everything)."""
        if self.view.is_live(entry):
            s = self.view.live(entry.info.dir).series(metric)
            if s is None:
                return None
            xs, ys = self.to_x(entry, x, s.step, s.epoch, s.value)
            return self._window(xs, ys, x0, x1, width)
        levels = self._levels(entry, metric)
        if levels is None:
            return None
        first, last = _span(levels)
        if x == "step":
            s0, s1 = (first if x0 is None else x0), (last if x1 is None else x1)
        else:  # the x range as a step range, from the coarsest level (it has every group's ends)
            coarse = self._read(entry, levels[-1])
            xs, _ = self.to_x(entry, x, coarse[0], coarse[1], coarse[2])
            steps = coarse[0][~np.isnan(coarse[1])] if x == "epoch" else coarse[0]
            s0, s1 = _step_range(xs, steps, x0, x1, first, last)
        level, chunks = plan(levels, s0, s1, width)
        step, epoch, value = self._read(entry, chunks)
        xs, ys = self.to_x(entry, x, step, epoch, value)
        return self._window(xs, ys, x0, x1, width)

    def raw(self, entry: Entry, metric: str, x: str):
        """Every point of a metric on the x axis (for means over seeds), read without filling the cache."""
        if self.view.is_live(entry):
            s = self.view.live(entry.info.dir).series(metric)
        else:
            levels = self._levels(entry, metric)
            s = None if levels is None else Series(*self._read(entry, levels[0], keep=False), [])
        return None if s is None else self.to_x(entry, x, s.step, s.epoch, s.value)

    def extent(self, entry: Entry, metric: str, x: str) -> tuple[float, float] | None:
        """The first and last x of a metric, from its coarsest level (which keeps every group's ends)."""
        if self.view.is_live(entry):
            found = self.raw(entry, metric, x)
        else:
            levels = self._levels(entry, metric)
            found = None if levels is None else self.to_x(entry, x, *self._read(entry, levels[-1]))
        if found is None or not len(found[0]):
            return None
        return float(found[0][0]), float(found[0][-1])

    def to_x(self, entry: Entry, x: str, step, epoch, value):
        if x == "step":
            return step, value
        if x == "epoch":
            keep = ~np.isnan(epoch)  # points logged without an epoch have no place on this axis
            return epoch[keep], value[keep]
        clock = self._clock(entry)
        if clock is None or not len(clock[0]):
            return np.zeros(0), np.zeros(0)
        return np.interp(step, clock[0], clock[1]), value

    # reading -------------------------------------------------------------------------------------

    def _clock(self, entry: Entry):
        """step → cumulative running time of a run."""
        if self.view.is_live(entry):
            s = self.view.live(entry.info.dir).series(TIME)
            return None if s is None else (s.step, s.value)
        levels = self._levels(entry, TIME)
        if levels is None:
            return None
        step, _, value = self._read(entry, levels[0])
        return step, value

    def _levels(self, entry: Entry, metric: str):
        found = self.view.series_index(entry)
        entry_index = None if found is None else found[1].get(metric)
        return None if entry_index is None else entry_index["levels"]

    def _file(self, entry: Entry) -> SeriesFile | None:
        """The open series file of the run's batch (one per batch, shared by its runs; batches never change)."""
        found = self.view.series_index(entry)
        if found is None:
            return None
        key = str(found[0])
        with self._lock:
            f = self._files.get(key)
            if f is not None:
                self._files.move_to_end(key)
                return f
        try:
            f = SeriesFile(found[0])
        except (OSError, ValueError):
            return None  # a batch gc removed after this snapshot: the next refresh names its successor
        with self._lock:
            self._files[key] = f
            while len(self._files) > OPEN_FILES:
                self._files.popitem(last=False)[1].close()
        return f

    def _read(self, entry: Entry, chunks: list[list[int]], keep: bool = True):
        f = self._file(entry)
        parts = []
        decoded: dict[int, tuple] = {}  # a record batch holds many chunks: each is decoded once per read
        for chunk in chunks:
            key = (str(f.path), chunk[0])
            hit = decoded.get(chunk[0])
            if hit is None:
                with self._lock:
                    hit = self._chunks.get(key)
                    if hit is not None:
                        self._chunks.move_to_end(key)
            if hit is None:
                hit = f.batch(chunk[0])
                if keep:
                    self._remember(key, hit)
            decoded[chunk[0]] = hit
            parts.append(part(hit, chunk))
        if len(parts) == 1:
            # a copy, not a view: a view would keep its whole decoded record batch (many runs' points) alive for
            # as long as the curve is, outside the cache's budget — a chart of 1,000 runs held 1,000 batches
            return tuple(a.copy() for a in parts[0])
        return join(parts)

    def _remember(self, key: tuple, arrays: tuple) -> None:
        size = sum(a.nbytes for a in arrays)
        with self._lock:
            if key in self._chunks:  # two threads decoded it at once: it is held once
                return
            self._chunks[key] = arrays
            self._held += size
            while self._held > self._budget and len(self._chunks) > 1:
                _, old = self._chunks.popitem(last=False)
                self._held -= sum(a.nbytes for a in old)

    @staticmethod
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
