"""What a sweep's runs show, from the read model: each point's newest run, its main metric's best value and
the epoch it reached its target, and the comparison over seeds (per strategy and setting: best mean ± std,
how many reached the target and when) — one answer for `ol sweep --status` and the dashboard's sweep page,
with no metric guessed from a name: the run's contract names it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ol.schemas import RunContract
from ol.store.read import intervals
from ol.store.read.listing import started_order
from ol.store.read.record import RunInfo
from ol.store.read.series import split_key
from ol.store.read.sweep_plans import MIN_SEEDS, Plan, Point, point_index, point_of


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


def compare(points: list[Point], results: dict[Point, RunInfo], statistic: str = "mean") -> list[dict]:
    """Per strategy and setting, in the plan's order (``results``: each point's run, its record folded whole, with
    its metrics' summaries): points, runs, completed, the main metric, its best value over seeds and the epoch the
    target was reached ([mean, low, high]: a bootstrap interval, store/read/intervals.py; ``statistic`` mean or
    iqm), and how many reached the target with its exact interval. One value has no interval (None)."""
    out = []
    for (strategy, grid), done in _groups(points, results).items():
        best = [r.best for r in done if r.best is not None]
        epochs = [r.target_epoch for r in done if r.target_epoch is not None]
        drawn = [(key, r.contract.direction) for r in done if (key := main_key(r.contract, r.summaries))]
        series, direction = drawn[0] if drawn else ("", None)
        out.append({"strategy": strategy, "settings": dict(grid),
                    "points": sum(1 for p in points if (p.strategy, p.grid) == (strategy, grid)), "runs": len(done),
                    "completed": sum(r.status == "completed" for r in done), "main_series": series,
                    "direction": direction, "main_best": _interval(best, statistic),
                    "reached": len(epochs), "reached_ci": list(intervals.reached(len(epochs), len(done)) or []),
                    "epochs": _interval(epochs, statistic)})
    return out


def contrasts(points: list[Point], results: dict[Point, RunInfo]) -> list[dict]:
    """Between every two strategies of one setting whose runs have a best value (two or more each): the
    probability that a run of the first is better than one of the second (in the metric's direction) and the
    permutation test's p-value of the difference in means."""
    by_setting: dict[tuple, dict[str, list[RunInfo]]] = {}
    for (strategy, grid), done in _groups(points, results).items():
        by_setting.setdefault(grid, {})[strategy] = [r for r in done if r.best is not None]
    out = []
    for grid, strategies in by_setting.items():
        for (a, ra), (b, rb) in itertools.combinations(strategies.items(), 2):
            if len(ra) < 2 or len(rb) < 2:
                continue
            sign = -1.0 if ra[0].contract.direction == "lower" else 1.0
            va, vb = [sign * r.best for r in ra], [sign * r.best for r in rb]
            out.append({"settings": dict(grid), "a": a, "b": b, "p_better": intervals.improvement(va, vb),
                        "p_value": intervals.permutation_p(va, vb)})
    return out


def _groups(points: list[Point], results: dict[Point, RunInfo]) -> dict[tuple, list[RunInfo]]:
    groups: dict[tuple, list[RunInfo]] = {}
    for point in points:
        found = groups.setdefault((point.strategy, point.grid), [])
        if point in results:
            found.append(results[point])
    return groups


def _interval(values: list[float], statistic: str) -> list[float | None]:
    found = intervals.estimate(values, statistic)
    return [None, None, None] if found is None else [found.value, found.low, found.high]


PRECISION_RULE = ("seeds were added one per setting at a time, looking after each, until the {level:.0%} interval of "
                  "{statistic} of the best main metric was at most {width:g} wide (at least {least} seeds) or the "
                  "setting had {most}. Caveat: the rule stops on the interval's width, never on a difference between "
                  "settings, so it does not aim at a result; but an interval read at a data-dependent number of "
                  "seeds covers somewhat less than its nominal level, and a few seeds that happen to agree can stop "
                  "it early: report the seeds each setting took, and compare settings with the tests above, not by "
                  "whether their intervals overlap.")


def precision_rule(plan: Plan) -> str:
    """A sequential sweep's stopping rule and its caveat, in words ("" for a sweep of fixed points)."""
    rule = plan.until
    if rule is None:
        return ""
    return PRECISION_RULE.format(level=intervals.LEVEL, statistic=intervals.STATISTICS[rule.statistic],
                                 width=rule.width, least=MIN_SEEDS, most=rule.max_seeds)


@dataclass(frozen=True)
class Precise:
    """Where one setting of a sequential sweep stands against its rule."""
    strategy: str
    grid: tuple
    seeds: int
    width: float | None  # None: fewer than two values, no interval yet
    done: bool  # precise enough, or at the most seeds the rule allows


def precision(plan: Plan, results: dict[Point, RunInfo]) -> list[Precise]:
    """Each setting of a sequential sweep against its rule (its points' runs' best main metric, ``results``)."""
    rule = plan.until
    if rule is None:
        return []
    out = []
    for (strategy, grid), done in _groups(plan.points, results).items():
        seeds = sum(1 for p in plan.points if (p.strategy, p.grid) == (strategy, grid))
        found = intervals.estimate([r.best for r in done if r.best is not None], rule.statistic)
        width = None if found is None or found.low is None else found.high - found.low
        finished = len(done) == seeds and all(r.status == "completed" for r in done)
        precise = finished and seeds >= MIN_SEEDS and width is not None and width <= rule.width
        unmeasured = finished and found is None  # its runs never logged the main metric: seeds cannot help
        out.append(Precise(strategy, grid, seeds, width, precise or unmeasured or seeds >= rule.max_seeds))
    return out


def next_seeds(plan: Plan, results: dict[Point, RunInfo]) -> list[Point]:
    """A sequential sweep's next points: one more seed (the setting's highest plus one) for each setting whose
    runs all completed and whose interval is still wider than the rule allows. None while a run of a setting has
    not completed (a failed one is the sweep's to report, not a reason to add seeds)."""
    out = []
    for setting in precision(plan, results):
        points = [p for p in plan.points if (p.strategy, p.grid) == (setting.strategy, setting.grid)]
        if setting.done or any(p not in results or results[p].status != "completed" for p in points):
            continue
        out.append(Point(setting.strategy, max(p.seed for p in points) + 1, setting.grid))
    return out
