"""A run's record as plain fields: the one flat projection every listing of runs is made of.

What a reader gets about a run is one type, ``RunInfo`` (store/catalog.py: identity, status, contract, progress,
config, and — once its log is folded — the fold's view with config as updated, summary, best/final of the main
metric, target; each metric's summary; damage). Every flat form of it — the SQL ``runs`` view, ``ol runs -f
json``, the dashboard's table rows, the sweep report, ``summary.json`` and replay's summary at a destination —
is ``record(info)`` or a selection of it, so one field has one name everywhere.

(The runs view alone names ``name`` ``run_name``: the metrics views' own ``name`` column must stay unambiguous
in a join.)
"""

from __future__ import annotations

import math

from ol.store.catalog import RunInfo
from ol.store.fold import RunView

# the main metric as the run declared it, and how it went: the one fold's answer (store/fold.py)
MAIN_FIELDS = ("main_metric", "direction", "target", "main_best", "main_best_epoch", "main_final", "target_epoch")
RECORD_FIELDS = ("run_id", "name", "tags", "experiment", "strategy", "seed", "group", "status", "started_at",
                 "ended_at", "wall_time", "last_step", "last_epoch", "total_epochs", "error", *MAIN_FIELDS,
                 "world_size", "host", "config", "summary", "problems")


def main_fields(view: RunView | None) -> dict:
    """The main metric's fields of a run, from its fold (which carries the contract it declared)."""
    view = view or RunView()
    c = view.contract
    return {"main_metric": c.main_metric or None, "direction": c.direction, "target": c.target,
            "main_best": _finite(view.best), "main_best_epoch": view.best_epoch, "main_final": _finite(view.final),
            "target_epoch": view.target_epoch}


def record(info: RunInfo, view: RunView | None = None) -> dict:
    """Every field of ``RECORD_FIELDS``, as plain values (times in Unix seconds, the config as updated)."""
    view = view or info.view or RunView()
    return {"run_id": info.run_id, "name": info.name, "tags": list(info.tags), "experiment": info.experiment,
            "strategy": info.strategy, "seed": info.seed, "group": info.group, "status": info.status,
            "started_at": info.started_at, "ended_at": info.ended_at, "wall_time": info.wall_time,
            "last_step": info.last_step, "last_epoch": info.last_epoch, "total_epochs": info.contract.total_epochs,
            "error": info.error, **main_fields(view), "world_size": info.world_size, "host": info.host,
            "config": {**info.config, **view.config_updates}, "summary": dict(view.summary),
            "problems": info.problems()}


def _finite(value: float | None) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None
