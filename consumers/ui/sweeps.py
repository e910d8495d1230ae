"""A sweep's page: its grid of points with each one's run, status, progress and main-metric best, and the
comparison `ol sweep --status` prints (per strategy and setting: best mean ± std over seeds, how many reached
the target and at which epoch), read from the dashboard's runs (the store's index), not from the logs."""

from __future__ import annotations

import math

from ol.consumers.ui import table
from ol.consumers.ui.api import Dashboard
from ol.consumers.ui.data import BadRequest
from ol.errors import OlError
from ol.store.catalog import started_order
from ol.store.sweep_plans import list_plans, load_plan, point_index, point_of


def sweeps(dash: Dashboard, q: dict, _path) -> dict:
    return {"sweeps": list_plans(dash.view.store)}


def sweep(dash: Dashboard, q: dict, path: dict) -> dict:
    view = dash.view
    try:
        plan = load_plan(view.store, path["name"])
    except OlError as e:  # no such sweep, or a plan that is not one ol wrote: one line saying which
        raise BadRequest(str(e)) from None
    index = point_index(plan)
    runs = {}
    for e in sorted(view.refresh(), key=lambda e: started_order(e.info)):  # the newest run of a point wins
        point = point_of(plan, e.info, index)
        if point is not None:
            runs[point] = e
    rows, groups = [], {}
    for point in plan.points:
        e = runs.get(point)
        row = table.row(view, e) if e else None
        main = row["main"] and {"metric": row["main"]["metric"], "best": _number(row["main"]["best"]),
                                "target_epoch": row["target_epoch"]} if row else None
        rows.append({"strategy": point.strategy, "seed": point.seed, "settings": point.settings,
                     "status": e.info.status if e else "not started", "run": e.key if e else None,
                     "epoch": e.info.last_epoch if e else None, "epochs": e.info.contract.total_epochs if e else None,
                     "wall_time": e.info.wall_time if e else None, "best": main})
        groups.setdefault((point.strategy, tuple(point.settings.items())), []).append(rows[-1])
    keys = list(plan.points[0].settings) if plan.points else []
    comparison = [_compare(strategy, dict(settings), members) for (strategy, settings), members in groups.items()]
    return {"name": plan.name, "experiment": plan.experiment, "keys": keys, "points": rows, "comparison": comparison,
            "done": sum(r["status"] == "completed" for r in rows), "runs": [r["run"] for r in rows if r["run"]]}


def _compare(strategy: str, settings: dict, members: list[dict]) -> dict:
    best = [m["best"]["best"] for m in members if m["best"] and m["best"]["best"] is not None]
    epochs = [m["best"]["target_epoch"] for m in members if m["best"] and m["best"]["target_epoch"] is not None]
    metric = next((m["best"]["metric"] for m in members if m["best"]), "")
    return {"strategy": strategy, "settings": settings, "runs": sum(m["run"] is not None for m in members),
            "points": len(members), "completed": sum(m["status"] == "completed" for m in members), "metric": metric,
            "best": _mean_std(best), "reached": len(epochs), "epochs": _mean_std(epochs)}


def _number(value) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _mean_std(values: list[float]) -> list[float | None]:
    if not values:
        return [None, None]
    mean = sum(values) / len(values)
    # one value has no spread to speak of (None, shown without ±); several that agree have a spread of 0
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return [mean, std]
