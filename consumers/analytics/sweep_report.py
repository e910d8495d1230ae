"""A sweep's comparison: per strategy and setting, the main metric's best value (mean ± std over
seeds) and how many runs reached the target, at which epoch — all as the runs' contracts say."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ol.consumers.analytics.sql import connect
from ol.store.catalog import RunInfo


@dataclass
class Row:
    strategy: str
    settings: dict[str, object]
    runs: int
    completed: int
    metric: str
    direction: str | None
    best_mean: float | None
    best_std: float | None
    reached: int
    epochs_mean: float | None
    epochs_std: float | None


def compare(store: Path, points: list, runs: dict) -> list[Row]:
    """``points``: the sweep's points in order; ``runs``: point -> RunInfo (those that exist)."""
    infos: list[RunInfo] = list(runs.values())
    if not infos:
        return []
    conn = connect(store, [i.dir for i in infos])
    stats = conn.query("SELECT run_id, source, name, min, max FROM metric_stats").to_pylist()
    reached = {r["run_id"]: r["epoch"] for r in conn.query(
        "SELECT run_id, min(epoch) AS epoch FROM events WHERE kind = 'target_reached' GROUP BY run_id").to_pylist()}
    conn.con.close()
    groups: dict[tuple, list[RunInfo]] = {}
    for point in points:
        key = (point.strategy, tuple(point.settings.items()))
        groups.setdefault(key, [])
        if point in runs:
            groups[key].append(runs[point])
    out = []
    for (strategy, settings), members in groups.items():
        contract = next((m.contract for m in members if m.contract.main_metric), None)
        best = [b for m in members if contract and (b := _best(stats, m.run_id, contract)) is not None]
        epochs = [reached[m.run_id] for m in members if reached.get(m.run_id) is not None]
        out.append(Row(strategy, dict(settings), len(members), sum(m.status == "completed" for m in members),
                       contract.main_metric if contract else "", contract.direction if contract else None,
                       *_mean_std(best), len(epochs), *_mean_std(epochs)))
    return out


def _best(stats: list[dict], run_id: str, contract) -> float | None:
    rows = [r for r in stats if r["run_id"] == run_id and r["name"] == contract.main_metric]
    rows.sort(key=lambda r: r["source"] != "eval")  # an eval metric of that name before a train one
    if not rows or contract.direction is None:
        return None
    value = rows[0]["max" if contract.direction == "higher" else "min"]
    return value if value is not None and math.isfinite(value) else None


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
