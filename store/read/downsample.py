"""Downsampling that keeps spikes: M4 (first, last, min and max of every bucket).

A chart never needs more than a few points per pixel, but the points it gets must be the ones a
person would see at full resolution: the extremes of each pixel column and where the line enters
and leaves it. Sampling every k-th point (or averaging) hides a one-step loss spike in 100,000;
M4 keeps it. NaN is a value here (a diverged run), never a reason to drop a bucket: a bucket of
only NaN keeps one NaN point so the line breaks where the data does.
"""

from __future__ import annotations

import numpy as np

GROUP = 64  # points of one level per M4 group of the next (≤ 4 points each): ≈ 16× fewer a level


def m4(x: np.ndarray, y: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """Indices (sorted) of the first, last, min and max point of each run of equal bucket ids.

    ``buckets`` must be non-decreasing (points sorted by x); returns at most 4 indices per bucket.
    """
    n = len(y)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], n] - 1
    which = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    finite = ~np.isnan(y)
    index = np.arange(n)
    keep = [starts, ends]
    if finite.any():
        lo = np.fmin.reduceat(np.where(finite, y, np.inf), starts)
        hi = np.fmax.reduceat(np.where(finite, y, -np.inf), starts)
        big = np.int64(n)
        at_lo = np.minimum.reduceat(np.where(finite & (y == lo[which]), index, big), starts)
        at_hi = np.minimum.reduceat(np.where(finite & (y == hi[which]), index, big), starts)
        keep += [at_lo[at_lo < big], at_hi[at_hi < big]]
    return np.unique(np.concatenate(keep))


def bucket_ids(x: np.ndarray, x0: float, x1: float, width: int) -> np.ndarray:
    """Pixel column of each x over [x0, x1] divided into ``width`` columns."""
    span = max(float(x1) - float(x0), 1e-12)
    ids = np.floor((x.astype(np.float64) - x0) * (width / span)).astype(np.int64)
    return np.clip(ids, 0, width - 1)


def downsample(x: np.ndarray, y: np.ndarray, x0: float, x1: float, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The points of [x0, x1] a ``width``-pixel chart needs (all of them when there are few)."""
    lo, hi = np.searchsorted(x, x0, side="left"), np.searchsorted(x, x1, side="right")
    # one point either side of the range, so lines run to the chart's edges instead of stopping short
    lo, hi = max(lo - 1, 0), min(hi + 1, len(x))
    xs, ys = x[lo:hi], y[lo:hi]
    if len(xs) <= 4 * width:
        return xs, ys
    keep = m4(xs, ys, bucket_ids(xs, x0, x1, width))
    return xs[keep], ys[keep]


def group_level(x: np.ndarray, y: np.ndarray, group: int) -> tuple[np.ndarray, np.ndarray]:
    """One precomputed level: M4 over consecutive groups of ``group`` points (by index, not x)."""
    keep = m4(x, y, np.arange(len(y)) // group)
    return x[keep], y[keep]


def levels(x: np.ndarray, y: np.ndarray, smallest: int = 4096) -> list[tuple[np.ndarray, np.ndarray]]:
    """Coarser and coarser copies of a series (each about GROUP/4 times smaller), until one has at most
    ``smallest`` points. Every level is M4 of the one before, and M4 of M4 keeps every extreme, so a
    chart drawn from a level shows the spikes the raw points have; the pyramid costs one pass."""
    out = []
    lx, ly = x, y
    while len(ly) > smallest:
        lx, ly = group_level(lx, ly, GROUP)
        out.append((lx, ly))
    return out
