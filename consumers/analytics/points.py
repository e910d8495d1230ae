"""A metric's points on an x axis, for the notebook's ``metrics()`` and ``ol plot``: one reading of x for both.

x is step, epoch (points logged without one have no place on that axis) or time: the seconds the run had been
training at that step, its clock summed across resumed stretches by ``ol.store``'s ``cumulative_time`` —
the one clock the dashboard's time axis reads too — and read between the clock's points as a straight line.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ol.consumers.analytics.sql import StoreConnection
from ol.store import cumulative_time

_POINTS = "SELECT run_id, {x} AS x, value FROM metrics WHERE source = $source AND name = $name"
_ORDER = " ORDER BY run_id, step"


def points(conn: StoreConnection, source: str, name: str, x: str) -> pa.Table:
    """run_id, x, value of one metric of one source, in each run's step order (rows with no x left out)."""
    params = {"source": source, "name": name}
    if x != "time":
        return conn.query(_POINTS.format(x=x) + f" AND {x} IS NOT NULL" + _ORDER, params)
    found = conn.query(_POINTS.format(x="step") + _ORDER, params)
    clocks = conn.query("SELECT run_id, step, max(time) AS time FROM steps WHERE run_id IN (SELECT DISTINCT run_id "
                        "FROM metrics WHERE source = $source AND name = $name) GROUP BY ALL ORDER BY run_id, step",
                        params)
    clock = _by_run(clocks, "step", "time")
    parts = []
    for run_id, (step, value) in _by_run(found, "x", "value").items():
        if run_id not in clock:  # a run with no step rows has no clock: its points have no time
            continue
        clock_step, clock_time = clock[run_id]
        elapsed = np.interp(step, clock_step, cumulative_time(clock_time))
        parts.append(pa.table({"run_id": [run_id] * len(step), "x": elapsed, "value": value}))
    if not parts:
        return pa.table({"run_id": pa.array([], pa.string()), "x": pa.array([], pa.float64()),
                         "value": pa.array([], pa.float64())})
    return pa.concat_tables(parts)


def _by_run(table: pa.Table, a: str = "x", b: str = "value") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """run_id -> (column a, column b) of a table ordered by run_id, as floats (NULL as NaN)."""
    runs = table.column("run_id").to_numpy(zero_copy_only=False)
    xs = table.column(a).to_numpy(zero_copy_only=False).astype(np.float64)
    ys = np.asarray(table.column(b).to_pylist(), dtype=np.float64)  # a NULL value becomes NaN
    if not len(runs):
        return {}
    cuts = np.flatnonzero(runs[1:] != runs[:-1]) + 1
    starts, ends = np.r_[0, cuts], np.r_[cuts, len(runs)]
    return {str(runs[s]): (xs[s:e], ys[s:e]) for s, e in zip(starts, ends, strict=True)}
