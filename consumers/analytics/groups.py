"""Runs grouped by strategy (or any config key) as a mean with a band over seeds — ± std, min–max, or the
mean's 95 % bootstrap interval (``ci``: store/read/intervals.py, 1,000 resamples, seeded) —
and how many epochs each group took to cross a threshold (the grokking comparison), with intervals.

Runs are put on one grid of ``width`` columns over the x range; a run's value in a column is the
mean of its points there (NaN-skipping), and a group's statistics are taken over the runs that
have a value in that column, so a run that ended early does not drag the band to zero. Where the
runs share their x positions (seeds of one configuration logging at the same steps), every column
holds one point per run and the mean is exactly the mean of the logged values.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable

import numpy as np

from ol.store import bucket_ids, estimate, mean_band, reached_interval

BANDS = ("std", "minmax", "ci")


NOT_A_SETTING = ("seed",)  # config keys that say which repetition a run is, not what was tried
RUN_FIELDS = ("strategy", "group", "seed", "experiment")


def differing_keys(configs: list[dict]) -> list[str]:
    """The config keys whose values differ among ``configs`` (a key some runs lack differs), sorted."""
    keys = sorted({k for c in configs for k in c} - set(NOT_A_SETTING))
    return [k for k in keys if len({json.dumps(c.get(k), sort_keys=True, default=str) for c in configs}) > 1]


def check_grouping(by: str) -> list[str]:
    """The parts of a grouping ("strategy,config.lr"; "setting": the strategy and every config key that differs
    among the runs, never the seed); ValueError naming a part that is none of these."""
    parts = [p.strip() for p in by.split(",") if p.strip()]
    for part in parts:
        if part not in (*RUN_FIELDS, "setting") and not (part.startswith("config.") and len(part) > 7):
            raise ValueError(f"by must be {', '.join(RUN_FIELDS)}, setting or config.KEY (a comma-separated list "
                             f"of them), got {part!r}")
    if not parts:
        raise ValueError("by names no grouping")
    return parts


def group_labels(infos: list, by: str) -> dict[str, str]:
    """Each run's group (by its key) under the grouping ``by`` (see check_grouping): its values joined, a config
    key's as key=value — "stride · lr=0.003"."""
    parts = []
    for part in check_grouping(by):
        parts += ["strategy", *(f"config.{k}" for k in differing_keys([i.config for i in infos]))] \
            if part == "setting" else [part]
    parts = list(dict.fromkeys(parts))
    return {i.key: " · ".join(_part_label(i, p) for p in parts) or "all runs" for i in infos}


def _part_label(info, part: str) -> str:
    if part in RUN_FIELDS:
        value = getattr(info, part)
        return str(value) if value not in (None, "") else "(none)"
    key = part.removeprefix("config.")
    return f"{key}={info.config.get(key, '(none)')}"


def aggregate(members: dict[str, list[str]], points: Callable[[str], tuple | None], x_range: tuple | None,
              band: str, width: int) -> list[dict]:
    """Per group: x (mean x of each column), mean, lo, hi, and n (runs with a value there).

    ``points(key)`` gives one run's (x, y) at a time, so memory holds one run's points and a
    ``width``-column row per run, however many runs and points there are.
    """
    if x_range is None:
        return [_empty(g, keys) for g, keys in members.items()]
    x0, x1 = x_range
    out = []
    for name, keys in members.items():
        grid_x = np.zeros(width)
        grid_xn = np.zeros(width)
        rows = []
        for key in keys:
            x, y = points(key) or (np.zeros(0), np.zeros(0))
            if not len(x):
                continue
            ids = bucket_ids(x, x0, x1, width)
            finite = ~np.isnan(y)
            total = np.bincount(ids[finite], weights=y[finite], minlength=width)
            count = np.bincount(ids[finite], minlength=width)
            with np.errstate(invalid="ignore", divide="ignore"):
                rows.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
            grid_x += np.bincount(ids, weights=x, minlength=width)
            grid_xn += np.bincount(ids, minlength=width)
        if not rows:
            out.append(_empty(name, keys))
            continue
        values = np.vstack(rows)
        present = grid_xn > 0
        n = (~np.isnan(values)).sum(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: already marked n = 0
            mean = np.nanmean(values, axis=0)
            if band == "std":
                std = np.where(n > 1, np.nanstd(values, axis=0, ddof=1), 0.0)
                lo, hi = mean - std, mean + std
            elif band == "ci":  # one run in a column has no interval: the band is the mean there
                lo, hi = mean_band(values)
                lo, hi = np.where(n > 1, lo, mean), np.where(n > 1, hi, mean)
            else:
                lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        cols = present & (n > 0)
        out.append({"name": name, "runs": keys, "x": (grid_x[cols] / grid_xn[cols]).tolist(),
                    "mean": _list(mean[cols]), "lo": _list(lo[cols]), "hi": _list(hi[cols]),
                    "n": n[cols].astype(int).tolist()})
    return out


def first_crossing(x: np.ndarray, y: np.ndarray, threshold: float, direction: str) -> float | None:
    """The first x where y reaches the threshold (≥ for above, ≤ for below), or None."""
    with np.errstate(invalid="ignore"):
        hit = y >= threshold if direction == "above" else y <= threshold
    at = np.flatnonzero(hit)
    return float(x[at[0]]) if len(at) else None


def crossings(members: dict[str, list[str]], points: Callable[[str], tuple | None], threshold: float,
              direction: str, statistic: str = "mean") -> list[dict]:
    """Per group: how many runs crossed, with the exact interval of that share, and where they did — the
    ``statistic`` over the runs that crossed, with its bootstrap interval (None for one run: no interval)."""
    out = []
    for name, keys in members.items():
        per_run = {k: first_crossing(*found, threshold, direction) for k in keys if (found := points(k)) is not None}
        reached = [v for v in per_run.values() if v is not None]
        found = estimate(reached, statistic)
        out.append({"name": name, "runs": len(keys), "reached": len(reached),
                    "reached_ci": list(reached_interval(len(reached), len(keys)) or []),
                    "epochs": [None, None, None] if found is None else [found.value, found.low, found.high],
                    "per_run": per_run})
    return out


def _empty(name: str, keys: list[str]) -> dict:
    return {"name": name, "runs": keys, "x": [], "mean": [], "lo": [], "hi": [], "n": []}


def _list(a: np.ndarray) -> list:
    return [None if math.isnan(v) else v for v in a.tolist()]
