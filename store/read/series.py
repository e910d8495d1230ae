"""Every metric of a run as a chart-ready series, with coarse levels precomputed when the run is indexed.

``series.arrow`` (in each batch of the store's index, beside its Parquet) is an Arrow IPC file, lz4-compressed, holding
each metric's points — columns step, epoch (NaN where none was recorded), value, in step order after
the resume projection — as the raw points and coarser and coarser M4 levels
(consumers/downsample.py), each cut into record batches of CHUNK points. A reader decompresses only
the batches it asks for: the first paint of 100 runs reads a few thousand points per run, and a
zoom reads the chunks of the one level that has enough points for the range. The series ``_time``
maps step to cumulative running time (seconds, resumed stretches added end to end) for charts over
time. Chunks are packed into record batches of up to PACK points, many runs' small series in one: zstd
then has columns long enough to compress (a batch of 1,000-step runs: 19 MB as one record batch per
series, 9 MB packed). The index of a run's series (each chunk's record batch, offset in it, size and steps;
each metric's count, final and extremes) is kept in the store's catalog with the run, since one file holds
the series of many runs.

A metric is named ``source/name``: source is train, eval or the hook that computed it, as in the
``metrics`` view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ol.store.read.downsample import levels

TIME = "_time"
X_AXES = ("step", "epoch", "time")  # what a series can be drawn over, besides another metric (is_x_axis)
SCHEMA = pa.schema([("step", pa.int64()), ("epoch", pa.float64()), ("value", pa.float64())])
CHUNK = 4096  # points per chunk of one series: a zoom reads the chunks it shows, not the whole run
PACK = 65536  # points per record batch of the file, whole chunks of any runs and metrics


@dataclass
class Series:
    """One metric of one run: raw points and its coarser levels, in step order."""

    step: np.ndarray
    epoch: np.ndarray
    value: np.ndarray
    coarser: list[tuple[np.ndarray, np.ndarray, np.ndarray]]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.step, self.epoch, self.value)) + sum(
            a.nbytes for level in self.coarser for a in level)


def metric_key(source: str, name: str) -> str:
    return f"{source}/{name}"


def is_x_axis(x: str) -> bool:
    """Step, epoch, time, or a metric (``source/name``, e.g. train/batch) whose last value at or before each
    point's step is its place — what W&B's ``define_metric(..., step_metric=…)`` draws against."""
    source, name = split_key(x)
    return x in X_AXES or (bool(source) and bool(name) and x != TIME)


def split_key(key: str) -> tuple[str, str]:
    source, _, name = key.partition("/")
    return source, name


def build(tables) -> dict[str, Series]:
    """Series of every metric of a run, from its tables (store/read/tables.py's RunTables: its metrics as
    ``grouped`` made them, and its steps for the clock)."""
    out = {metric_key(source, name): with_levels(step, epoch, value)
           for source, name, step, epoch, value in tables.groups}
    steps = tables["steps"]
    times = _floats(steps.column("time")) if steps.num_rows else None
    if times is not None and not np.isnan(times).all():  # a run imported from a source without clocks has none
        s = steps.column("step").to_numpy(zero_copy_only=False).astype(np.int64)
        out[TIME] = Series(s, np.full(len(s), np.nan), cumulative_time(times), [])
    return out


def grouped(metrics: pa.Table):
    """(source, name, step, epoch, value) of each metric of a long metrics table, its points in step order
    (equal steps in log order): what its series and its statistics are made of."""
    if not metrics.num_rows:
        return
    source = _codes(metrics.column("source"))
    name = _codes(metrics.column("name"))
    step = metrics.column("step").to_numpy(zero_copy_only=False).astype(np.int64)
    epoch = _floats(metrics.column("epoch"))
    value = _floats(metrics.column("value"))
    key = source[0] * (len(name[1]) + 1) + name[0]
    # stable sorts throughout (equal steps keep log order); the table holds each step column's points together
    # and in step order, runs a stable sort passes through in linear time
    order = np.argsort(key, kind="stable")
    key, step, epoch, value = key[order], step[order], epoch[order], value[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    for lo, hi in zip(starts, np.r_[starts[1:], len(key)], strict=True):
        k, at = int(key[lo]), slice(lo, hi)
        points = step[at], epoch[at], value[at]
        if (np.diff(points[0]) < 0).any():  # an epoch's or a hook's points may have been logged after later steps
            by_step = np.argsort(points[0], kind="stable")
            points = tuple(a[by_step] for a in points)
        yield source[1][k // (len(name[1]) + 1)], name[1][k % (len(name[1]) + 1)], *points


def with_levels(step: np.ndarray, epoch: np.ndarray, value: np.ndarray) -> Series:
    # levels are built over the point index, so each kept point brings its step and epoch along
    coarse = [(step[i], epoch[i], v) for i, v in levels(np.arange(len(step)), value)]
    return Series(step, epoch, value, coarse)


def cumulative_time(time: np.ndarray) -> np.ndarray:
    """Running time with each resumed stretch (whose clock restarts at 0) added after the last."""
    if len(time) == 0:
        return time
    t = np.nan_to_num(time, nan=0.0)
    restart = np.flatnonzero(np.diff(t) < 0) + 1
    offset = np.zeros(len(t))
    for r in restart:  # the new stretch's clock counts from its own start, after the last one's end (adding its
        offset[r:] += t[r - 1]  # non-negative time to that end never goes back, as t[r-1] - t[r] could by an ulp)
    return t + offset


def statistics(step: np.ndarray, value: np.ndarray) -> dict:
    """A metric's count, extremes and mean (NaN-skipping: NaN where it has no other value), first and final
    value and their steps — the metric_stats view's row, and the source of every other summary of a metric."""
    finite = value[~np.isnan(value)]
    extreme = (float(finite.min()), float(finite.max()), float(finite.mean())) if finite.size else (math.nan,) * 3
    return {"count": int(value.size), "min": extreme[0], "max": extreme[1], "mean": extreme[2],
            "first": float(value[0]), "final": float(value[-1]),
            "first_step": int(step[0]), "final_step": int(step[-1])}


def summary(series: Series) -> dict:
    """Count, final value and extremes of a metric as a run's record keeps them, for tables that must not read
    points (a NaN final is said; extremes the metric has none of are None)."""
    if not len(series.value):
        return {"count": 0, "final": None, "final_step": None, "min": None, "max": None}
    s = statistics(series.step, series.value)
    return {"count": s["count"], "final": _num(s["final"]), "final_step": s["final_step"],
            **{k: None if math.isnan(s[k]) else _num(s[k]) for k in ("min", "max")}}


def write(path: Path, all_series: dict[str, Series]) -> dict:
    """Write series.arrow; returns its index {metric: {"levels": [[chunk, …] per level], **summary}},
    each chunk ``[batch, offset, points, first step, last step]``, level 0 the raw points."""
    index: dict[str, dict] = {}
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SCHEMA, options=options) as writer:
        packer = _Packer(writer)
        for key, s in all_series.items():
            chunked = []
            for step, epoch, value in [(s.step, s.epoch, s.value), *s.coarser]:
                chunks = []
                for lo in range(0, max(len(step), 1), CHUNK):
                    hi = min(lo + CHUNK, len(step))
                    first, last = (int(step[lo]), int(step[hi - 1])) if hi > lo else (0, -1)
                    chunks.append([*packer.add(step[lo:hi], epoch[lo:hi], value[lo:hi]), hi - lo, first, last])
                chunked.append(chunks)
            index[key] = {"levels": chunked, **summary(s)}
        packer.flush()
    return index


class _Packer:
    """Gathers chunks into record batches of up to PACK points; says where each chunk went."""

    def __init__(self, writer):
        self.writer, self.batches, self.rows = writer, 0, 0
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, step: np.ndarray, epoch: np.ndarray, value: np.ndarray) -> tuple[int, int]:
        if self.rows + len(step) > PACK:
            self.flush()
        at = (self.batches, self.rows)
        self.parts.append((step, epoch, value))
        self.rows += len(step)
        return at

    def flush(self) -> None:
        if not self.parts:
            return
        columns = [np.concatenate([p[c] for p in self.parts]) for c in range(3)]
        self.writer.write_batch(pa.record_batch([pa.array(columns[0], pa.int64()), pa.array(columns[1], pa.float64()),
                                                 pa.array(columns[2], pa.float64())], schema=SCHEMA))
        self.batches, self.rows, self.parts = self.batches + 1, 0, []


class SeriesFile:
    """A batch's series.arrow, shared by its runs, decompressing only the chunks asked for (which chunks hold
    a run's metric is in the catalog's series index of that run). Read with plain reads, not a memory map: a
    server holding many of these open keeps only what it decoded in memory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = pa.OSFile(str(path), "rb")
        self._reader = pa.ipc.open_file(self._file)

    def batch(self, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One record batch decoded: the chunks in it are slices (``part``)."""
        record = self._reader.get_batch(batch)
        return tuple(record.column(c).to_numpy(zero_copy_only=False) for c in range(3))

    def close(self) -> None:
        self._file.close()


def part(arrays: tuple[np.ndarray, np.ndarray, np.ndarray], chunk: list[int]):
    """A chunk's points out of its decoded record batch (views, no copy)."""
    _, offset, points = chunk[:3]
    return tuple(a[offset:offset + points] for a in arrays)


def join(chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(chunks) == 1:
        return chunks[0]
    if not chunks:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    return tuple(np.concatenate(parts) for parts in zip(*chunks, strict=True))


def plan(levels: list[list[list[int]]], s0: float, s1: float, width: int) -> tuple[int, list[list[int]]]:
    """Which level, and which of its chunks, a ``width``-pixel chart of steps [s0, s1] needs: the
    coarsest level with about 4 points per pixel there (point density taken from each chunk), and
    its chunks that overlap the range, plus the neighbour holding the point just outside each end
    (so lines reach the chart's edges)."""
    for level in range(len(levels) - 1, -1, -1):
        chunks = levels[level]
        inside = sum(n * _overlap(first, last, s0, s1) for _, _, n, first, last in chunks)
        if inside >= 4 * width or level == 0:
            hit = [i for i, (_, _, n, first, last) in enumerate(chunks) if n and last >= s0 and first <= s1]
            if not hit:  # the range falls between chunks or outside: the nearest ones still draw the edges
                hit = [min(range(len(chunks)), key=lambda i: min(abs(chunks[i][3] - s0), abs(chunks[i][4] - s1)))]
            # a neighbour only when the point just outside the range is in it
            lo = hit[0] - 1 if hit[0] > 0 and chunks[hit[0]][3] >= s0 else hit[0]
            hi = hit[-1] + 1 if hit[-1] < len(chunks) - 1 and chunks[hit[-1]][4] <= s1 else hit[-1]
            return level, chunks[lo:hi + 1]
    return 0, []


def _overlap(first: int, last: int, s0: float, s1: float) -> float:
    if last < first:
        return 0.0
    span = max(last - first, 1)
    return max(0.0, min(last, s1) - max(first, s0)) / span if last > first else float(s0 <= first <= s1)


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Integer codes and their labels for a string or dictionary column (chunks may carry different
    dictionaries: they are unified first)."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    column = column.unify_dictionaries()
    labels = column.chunk(0).dictionary.to_pylist() if column.num_chunks else []
    codes = [c.indices.to_numpy(zero_copy_only=False) for c in column.chunks]
    return (np.concatenate(codes).astype(np.int64) if codes else np.zeros(0, np.int64)), labels


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    return column.cast(pa.float64()).fill_null(math.nan).to_numpy(zero_copy_only=False)


def _num(x) -> float | str:
    """A number for JSON: NaN and ±inf as the strings "NaN", "inf", "-inf" (a diverged run's final
    value is NaN, and a table must say so, not show a blank)."""
    x = float(x)
    return x if math.isfinite(x) else ("NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf"))
