"""A metric's points on an x axis for ``ol plot`` and the notebook's ``metrics()``: read through the store's
reader, as the dashboard reads a run's curves — every point, a live run's as a sealed one's, on the same x axes
(step; epoch; time: the run's clock summed across resumed stretches)."""

from __future__ import annotations

import numpy as np

from ol.consumers.analytics.metric_names import MetricId
from ol.consumers.analytics.sql import StoreConnection


def points(conn: StoreConnection, metric: MetricId, x: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """run_id -> (x values, metric values) in step order, for each run in view that logged the metric."""
    reader, out = conn.reader, {}
    for info in sorted(conn.runs, key=lambda i: i.run_id):
        found = reader.points(info, str(metric), x)
        if found is not None and len(found[0]):  # whole epochs as integers; a Trainer's fractions kept
            xs, ys = found
            whole = x == "epoch" and bool(np.all(xs == np.floor(xs)))
            out[info.run_id] = (xs.astype(np.int64) if whole else xs, np.asarray(ys, dtype=float))
    return out
