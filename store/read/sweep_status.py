"""What a sweep's runs show, from the read model: each point's newest run, its main metric's best value and
the epoch it reached its target, and the comparison over seeds (per strategy and setting: best mean ± std,
how many reached the target and when) — one answer for `ol sweep --status` and the dashboard's sweep page,
with no metric guessed from a name: the run's contract names it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ol.schemas import RunContract
from ol.store.read.listing import started_order
from ol.store.read.record import RunInfo, main_fields
from ol.store.read.series import split_key
from ol.store.read.sweep_plans import Plan, Point, point_index, point_of


@dataclass(frozen=True)
class PointResult:
    status: str
    main_series: str  # the main metric's key (source/name), "" when the run declared none or never logged it
    direction: str | None
    main_best: float | None
    target_epoch: int | None


def newest_runs(plan: Plan, runs: list) -> dict[Point, object]:
    """The newest of ``runs`` (RunInfos) of each of the plan's points."""
    index = point_index(plan)
    found: dict[Point, object] = {}
    for run in sorted(runs, key=started_order):
        point = point_of(plan, run, index)
        if point is not None:
            found[point] = run
    return found


def main_key(contract: RunContract, summaries: dict[str, dict]) -> str:
    """The series key (source/name) of the main metric the contract names, to draw it: its eval series before
    any other of that name; "" when it names none or the run never logged it. Its best is the fold's."""
    main = contract.main_metric
    keys = [k for k in summaries if k == main or split_key(k)[1] == main]
    if not main or not keys:
        return ""
    return main if main in keys else next((k for k in keys if k.startswith("eval/")), keys[0])


def result(info: RunInfo) -> PointResult:
    """A sweep point's run as the report shows it (its record folded whole: the index's, or its log's now)."""
    key = main_key(info.contract, info.summaries)
    main = main_fields(info)
    return PointResult(info.status, key, main["direction"] if key else None, main["main_best"], main["target_epoch"])


def compare(points: list[Point], results: dict[Point, PointResult]) -> list[dict]:
    """Per strategy and setting, in the plan's order: points, runs, completed, the main metric, its best value's
    mean and std over seeds, how many reached the target and the epoch's mean and std. A spread of one value
    is None (there is none), of several that agree 0."""
    groups: dict[tuple, list[Point]] = {}
    for point in points:
        groups.setdefault((point.strategy, point.grid), []).append(point)
    out = []
    for (strategy, grid), members in groups.items():
        done = [results[p] for p in members if p in results]
        best = [r.main_best for r in done if r.main_best is not None]
        epochs = [r.target_epoch for r in done if r.target_epoch is not None]
        metric = next((r for r in done if r.main_series), None)
        out.append({"strategy": strategy, "settings": dict(grid), "points": len(members), "runs": len(done),
                    "completed": sum(r.status == "completed" for r in done),
                    "main_series": metric.main_series if metric else "",
                    "direction": metric.direction if metric else None, "main_best": mean_std(best),
                    "reached": len(epochs), "epochs": mean_std(epochs)})
    return out


def mean_std(values: list[float]) -> list[float | None]:
    if not values:
        return [None, None]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return [mean, std]
