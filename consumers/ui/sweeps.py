"""A sweep's page: its grid of points with each one's run, status, progress and main-metric best, and the
comparison `ol sweep --status` prints (store/read/sweep_status.py: the same answer), read from the dashboard's runs
(the store's index), not from the logs; and the intervals of the hyperparameter scatter's seeds, made the same way."""

from __future__ import annotations

import math

from ol.consumers.ui.api import MAX_RUNS, Dashboard
from ol.consumers.ui.data import BadRequest, estimator_of
from ol.errors import OlError
from ol.store import bootstrap_of, compare, contrasts, estimate, list_plans, load_plan, main_key, method_of, newest_runs


def sweeps(dash: Dashboard, q: dict, _path) -> dict:
    return {"sweeps": list_plans(dash.reader.store)}


def sweep(dash: Dashboard, q: dict, path: dict) -> dict:
    reader = dash.reader
    estimator = estimator_of(q)
    try:
        plan = load_plan(reader.store, path["name"])
    except OlError as e:  # no such sweep, or a plan that is not one ol wrote: one line saying which
        raise BadRequest(str(e)) from None
    runs = newest_runs(plan, reader.refresh())
    rows = []
    for point in plan.points:
        i = runs.get(point)
        rows.append({"strategy": point.strategy, "seed": point.seed, "settings": point.settings,
                     "status": i.status if i else "not started", "run": i.key if i else None,
                     "epoch": i.last_epoch if i else None, "epochs": i.contract.total_epochs if i else None,
                     "wall_time": i.wall_time if i else None,
                     "main_series": main_key(i.contract, i.summaries) if i else "",
                     "main_best": i.best if i else None, "target_epoch": i.target_epoch if i else None})
    keys = list(plan.points[0].settings) if plan.points else []
    return {"name": plan.name, "experiment": plan.experiment, "keys": keys, "points": rows,
            "comparison": compare(plan.points, runs, estimator), "contrasts": contrasts(plan.points, runs),
            "estimator": estimator, "method": method_of(estimator),
            "done": sum(r["status"] == "completed" for r in rows), "runs": [r["run"] for r in rows if r["run"]]}


def estimates(dash: Dashboard, q: dict, _path) -> dict:
    """The interval of each of a few groups of values (``cells``: numbers split by ",", groups by ";") — the
    hyperparameter scatter's seeds at one x — made as every comparison across seeds is (store/read/intervals.py),
    so the page states the same interval ``ol sweep --status`` would."""
    statistic = estimator_of(q)
    try:
        values = [[float(v) for v in cell.split(",") if v] for cell in q.get("cells", "").split(";")]
    except ValueError:
        raise BadRequest("cells are numbers split by ',' in groups split by ';'") from None
    if sum(map(len, values)) > MAX_RUNS or not all(math.isfinite(v) for cell in values for v in cell):
        raise BadRequest(f"cells hold at most {MAX_RUNS} finite numbers")
    found = [estimate(cell, statistic) for cell in values]
    return {"cells": [None if e is None else [e.value, e.low, e.high, e.n] for e in found],
            "method": bootstrap_of(statistic)}
