"""How sure a comparison across seeds is: intervals and tests.

- a setting's value over its seeds: the mean or the interquartile mean (IQM, Agarwal et al. 2021), with a
  percentile bootstrap interval (``LEVEL``, ``RESAMPLES`` resamples, seeded: a table is the same every time);
- "k of n reached the target": an exact (Clopper–Pearson) binomial interval;
- between two settings: the probability that a run of one beats a run of the other (ties count half:
  the Mann–Whitney statistic over n·m) and a two-sided permutation test of the difference in means (exact
  enumeration when the samples are small enough, else ``RESAMPLES`` random permutations).

``METHOD`` says all of it in one line, for a table's caption. The resampling is NumPy's (a percentile bootstrap
and a permutation test are a few array operations) and the binomial interval is its definition solved by
bisection: ``scipy.stats`` does the same at ~1 s of import (``scipy.special`` alone 0.25 s), which would double
`ol sweep --status`; tests/store/test_intervals.py holds all of it to textbook answers and to scipy.stats.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
RESAMPLES = 10_000
BAND_RESAMPLES = 1_000  # a curve's band: an interval at every column of a chart
SEED = 0
STATISTICS = {"mean": "the mean", "iqm": "the interquartile mean (IQM)"}  # what a setting's value over seeds is


def bootstrap_of(statistic: str = "mean") -> str:
    """How a value's interval was made, for a table's caption."""
    return (f"{LEVEL:.0%} percentile bootstrap intervals of {STATISTICS[statistic]} over seeds ({RESAMPLES:,} "
            f"resamples, seed {SEED})")


def method_of(statistic: str = "mean") -> str:
    """How every number of a comparison was made, in one line."""
    return (f"{bootstrap_of(statistic)}; k of n with an exact Clopper–Pearson interval; P(A > B) counts ties half; "
            "p: two-sided permutation test of the difference in means")


BOOTSTRAP, METHOD = bootstrap_of(), method_of()
BAND = (f"{LEVEL:.0%} percentile bootstrap interval of the mean over seeds at each x ({BAND_RESAMPLES:,} resamples, "
        f"seed {SEED})")


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float | None  # None: one value has no interval
    high: float | None
    n: int


def estimate(values: list[float], statistic: str = "mean") -> Estimate | None:
    """The statistic of ``values`` with its bootstrap interval; None for no values."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if not len(x):
        return None
    of = _statistic(statistic)
    point = float(of(x[None, :])[0])
    if len(x) < 2 or np.all(x == x[0]):  # one value, or all the same: nothing to resample
        return Estimate(point, None if len(x) < 2 else point, None if len(x) < 2 else point, len(x))
    resampled = of(x[np.random.default_rng(SEED).integers(0, len(x), size=(RESAMPLES, len(x)))])
    low, high = np.percentile(resampled, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return Estimate(point, float(low), float(high), len(x))


def band(values: np.ndarray, resamples: int = BAND_RESAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``values`` (runs × columns, NaN where a run has no value), the percentile bootstrap interval
    of the mean over runs: a curve's band. Resampled in chunks, so memory stays small however many runs."""
    runs, cols = values.shape
    rng = np.random.default_rng(SEED)
    chunk = max(1, 2_000_000 // max(runs * cols, 1))
    means = []
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample of only runs without a value: NaN, skipped
        for start in range(0, resamples, chunk):
            picked = values[rng.integers(0, runs, size=(min(chunk, resamples - start), runs))]
            means.append(np.nanmean(picked, axis=1))
        low, high = np.nanpercentile(np.vstack(means), [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2], axis=0)
    return low, high


def reached(k: int, n: int) -> tuple[float, float] | None:
    """The exact (Clopper–Pearson) interval of a proportion k of n (None for n = 0): the p at which seeing k or
    more (for the low end), or k or fewer (the high end), has probability (1 - LEVEL) / 2."""
    if n == 0:
        return None
    tail = (1 - LEVEL) / 2
    low = 0.0 if k == 0 else _solve(lambda p: _at_most(k - 1, n, p) - (1 - tail))  # P(X ≥ k) = tail
    high = 1.0 if k == n else _solve(lambda p: _at_most(k, n, p) - tail)
    return low, high


def _at_most(k: int, n: int, p: float) -> float:
    """P(X ≤ k) for X ~ Binomial(n, p), summed in log space (large n neither overflows nor underflows) over the
    shorter side: P(X ≤ k) = 1 - P(X ≥ k + 1)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    upper = k > n // 2
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
             for i in (range(k + 1, n + 1) if upper else range(k + 1))]
    top = max(terms)
    total = min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))
    return 1.0 - total if upper else total


def _solve(decreasing) -> float:
    """The p in (0, 1) where ``decreasing(p)`` (falling in p, as a binomial CDF does) crosses 0: bisection to
    double precision (the beta quantile SciPy would give, without its 0.25 s of import on every command)."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if decreasing(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def improvement(a: list[float], b: list[float]) -> float | None:
    """P(a run of ``a`` beats one of ``b``), ties half; None when either is empty."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not len(a) or not len(b):
        return None
    return float(((a[:, None] > b[None, :]).sum() + 0.5 * (a[:, None] == b[None, :]).sum()) / (len(a) * len(b)))


def permutation_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value of the difference in means under relabelling (twice the smaller tail, at most 1): every
    relabelling when there are at most RESAMPLES of them, else RESAMPLES random ones (counting the observed
    one, so p is never 0); None below two values a side."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return None
    pooled, n = np.concatenate([a, b]), len(a)
    observed = a.mean() - b.mean()
    if math.comb(len(pooled), n) <= RESAMPLES:
        chosen = np.zeros((math.comb(len(pooled), n), len(pooled)), dtype=bool)
        for row, picked in enumerate(itertools.combinations(range(len(pooled)), n)):
            chosen[row, list(picked)] = True
        extra = 0
    else:
        order = np.random.default_rng(SEED).random((RESAMPLES, len(pooled))).argsort(axis=1)
        chosen = np.zeros((RESAMPLES, len(pooled)), dtype=bool)
        np.put_along_axis(chosen, order[:, :n], True, axis=1)
        extra = 1
    total = pooled.sum()
    first = (chosen * pooled).sum(axis=1)
    diffs = first / n - (total - first) / (len(pooled) - n)
    close = 1e-12 * max(1.0, abs(observed))  # the observed split itself counts as at least as extreme
    below = ((diffs <= observed + close).sum() + extra) / (len(diffs) + extra)
    above = ((diffs >= observed - close).sum() + extra) / (len(diffs) + extra)
    return float(min(1.0, 2 * min(below, above)))


def _statistic(name: str):
    """The statistic along the last axis: mean, or the mean of the middle half (a quarter trimmed a side)."""
    if name == "mean":
        return lambda x: x.mean(axis=-1)
    if name == "iqm":
        return lambda x: np.sort(x, axis=-1)[..., int(0.25 * x.shape[-1]):x.shape[-1] - int(0.25 * x.shape[-1])] \
            .mean(axis=-1)
    raise ValueError(f"statistic is one of {', '.join(STATISTICS)}, not {name!r}")
