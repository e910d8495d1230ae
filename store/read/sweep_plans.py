"""Sweep plans: what a sweep is (its experiment, its points — strategy × seed × grid values — and the settings
every point shares, typed), written once at its start to ``<store>/.sweeps/<name>.json``, and which run trains
which point (each run records its point's index). The producer runs plans (producer/sweep.py, a point by
producer/worker.py); readers show them (`ol sweep --status`, the dashboard's sweep page). A plan in a store is
untrusted input: ``check_plan`` refuses what would move a run or name a path.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from ol.errors import ProducerError, UsageError
from ol.schemas.launch import OptionValue, RunSettings
from ol.store.log.derived import ensure_dir, replace_file
from ol.store.log.rundir import check_name, plain_name
from ol.store.log.sharing import share_file
from ol.store.read.intervals import STATISTICS

SWEEPS_DIR = ".sweeps"


@dataclass(frozen=True)
class Point:
    strategy: str
    seed: int
    grid: tuple[tuple[str, OptionValue], ...] = ()  # (experiment option, value), in --grid order

    @property
    def settings(self) -> dict[str, OptionValue]:
        return dict(self.grid)

    def label(self) -> str:
        parts = [self.strategy, f"seed {self.seed}"] + [f"{k}={v}" for k, v in self.grid]
        return " · ".join(parts)


PLAN_VERSION = 2  # 2: typed settings and grid values (1 kept `ol train` flags as text)
MIN_SEEDS = 3  # fewer values than this make a bootstrap interval that means nothing; no rule stops below it
MOST_SEEDS = 1000  # a plan asking more of a sequential sweep was not written by a person at a keyboard


@dataclass(frozen=True)
class Precision:
    """A sequential sweep's stopping rule: add seeds to a setting until the interval of its best main metric (its
    ``statistic`` over seeds) is at most ``width`` wide, or it has ``max_seeds`` seeds (store/read/sweep_status.py
    applies it)."""
    width: float
    max_seeds: int
    statistic: str = "mean"


@dataclass
class Plan:
    name: str
    experiment: str
    points: list[Point]
    settings: RunSettings | None  # what every point trains with; None: a plan of ol before version 2 (shown only)
    until: Precision | None = None  # a sequential sweep grows its points by this rule; None: the points are all

    def save(self, store: Path) -> Path:
        path = plan_path(store, check_plan(self).name)
        Path(store).mkdir(parents=True, exist_ok=True)
        ensure_dir(store, SWEEPS_DIR, group_writes=True)
        try:
            with open(path, "x") as f:  # a sweep's name is taken once
                share_file(f.fileno(), path.parent)
                json.dump(self._data(), f, indent=1)
        except FileExistsError:
            raise UsageError(f"sweep: there is already a sweep named {self.name!r} in {store}; finish it with "
                             f"`ol sweep --resume {self.name}` or pick another --name") from None
        return path

    def grow(self, store: Path, points: list[Point]) -> Plan:
        """This plan with ``points`` appended, written in place of the old one in one step (a sequential sweep's
        next seeds; its points only ever grow, so each run's recorded point index stays true)."""
        grown = check_plan(Plan(self.name, self.experiment, self.points + points, self.settings, self.until))
        path = plan_path(store, self.name)
        if not _real_dir(path.parent):
            raise UsageError(f"sweep: {path.parent} is not a folder of this store; its plan is not rewritten")
        replace_file(path.parent, path.name, json.dumps(grown._data(), indent=1).encode())  # a link is replaced,
        return grown  # never followed

    def _data(self) -> dict[str, Any]:
        data = {"version": PLAN_VERSION, "name": self.name, "experiment": self.experiment,
                "points": [{"strategy": p.strategy, "seed": p.seed, "grid": [list(kv) for kv in p.grid]}
                           for p in self.points],
                "settings": msgspec.to_builtins(self.settings)}
        if self.until is not None:
            data["until"] = {"width": self.until.width, "max_seeds": self.until.max_seeds,
                             "statistic": self.until.statistic}
        return data

    def runnable(self) -> RunSettings:
        if self.settings is None:
            raise UsageError(f"sweep: {self.name} was planned by an older ol, whose plans kept `ol train` flags as "
                             "text; its status is shown but it cannot be run by this one",
                             hint="start the remaining points as a new sweep")
        return self.settings


def plan_path(store: Path, name: str) -> Path:
    # a sweep's name becomes a file name (and each run's group): kept as plain as a run id
    return Path(store) / SWEEPS_DIR / f"{check_name('sweep name', name)}.json"


def load_plan(store: Path, name: str) -> Plan:
    path = plan_path(store, name)
    try:
        data = json.loads(read_plain(path))
    except FileNotFoundError:
        known = list_plans(store)
        raise UsageError(f"sweep: no sweep named {name!r} in {store}",
                         hint=f"sweeps here: {', '.join(known)}" if known else "start one with `ol sweep EXPERIMENT`") \
            from None
    except (OSError, ValueError) as e:
        raise ProducerError(f"sweep: cannot read {path} ({e}); it is written once at a sweep's start") from None
    try:
        points = [Point(p["strategy"], p["seed"], tuple((k, v) for k, v in p["grid"])) for p in data["points"]]
        settings = msgspec.convert(data["settings"], RunSettings) if "settings" in data else _older(data)
        until = Precision(**data["until"]) if data.get("until") is not None else None
        plan = Plan(data["name"], data["experiment"], points, settings, until)
    except (KeyError, TypeError, ValueError, msgspec.ValidationError) as e:
        raise UsageError(f"sweep: {path} is not a sweep plan ol wrote ({type(e).__name__}: {e})",
                         hint="start the sweep again under a new --name") from None
    if plan.name != name:
        raise UsageError(f"sweep: {path} names itself {plan.name!r}, not {name!r}: it was changed after it was "
                         "written, and is not run", hint="start the sweep again under a new --name")
    return check_plan(plan)


def _older(data: dict[str, Any]) -> None:
    """A version-1 plan (its shared options `ol train` flags as text): its points are shown, it is not run."""
    if not isinstance(data["options"], list):
        raise TypeError("options is not a list")
    return None


# what a grid may not set: where a point's run goes and what it is (the sweep decides those, point by point)
IDENTITY_OPTIONS = ("store", "group", "resume", "strategy", "seed")
_OPTION = re.compile(r"^[a-z][a-z0-9_]*$")
_RUN_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")  # a run id, prefix or EXP/STRATEGY


def check_plan(plan: Plan) -> Plan:
    """A plan is untrusted input (a store can come from anyone): names that become paths are plain names,
    seeds are whole numbers, grid values are an option's kind of value, and nothing names a file or moves a
    run: its settings have no field for the store or a run's identity, and the runs they refer to are run
    names, not paths. Raises UsageError naming what is wrong."""
    check_name("sweep name", plan.name)
    check_name("experiment", plan.experiment)
    for point in plan.points:
        check_name("strategy", point.strategy)
        if type(point.seed) is not int or point.seed < 0:
            raise UsageError(f"sweep: seed {point.seed!r} in the plan is not a whole number ≥ 0")
        for key, value in point.grid:
            if not isinstance(key, str) or not _OPTION.match(key) or not isinstance(value, (int, float, str)):
                raise UsageError(f"sweep: grid entry {key!r}={value!r} is not an option name and its value")
            if key in IDENTITY_OPTIONS:
                raise UsageError(f"sweep: --grid {key} would move a point's run or its identity; the sweep sets "
                                 "those itself", hint=f"leave {key} out of --grid")
    if plan.until is not None:
        check_precision(plan.until)
    if plan.settings is not None:
        for what, ref in (("--reference", plan.settings.reference), ("--order-from", plan.settings.order_from)):
            if ref is not None and not _RUN_REF.match(ref):
                raise UsageError(f"sweep: {what} {ref!r} in a plan must name a run of the store, not a path",
                                 hint="give the run's id (or EXPERIMENT/STRATEGY)")
    return plan


def check_precision(rule: Precision) -> Precision:
    """A stopping rule that can stop: a positive finite width, at least MIN_SEEDS seeds, a known statistic."""
    width, most = rule.width, rule.max_seeds
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise UsageError(f"sweep: --until-width must be a number above 0 (the interval's width in the main "
                         f"metric's units), got {width!r}")
    if type(most) is not int or not MIN_SEEDS <= most <= MOST_SEEDS:
        raise UsageError(f"sweep: --max-seeds must be a whole number from {MIN_SEEDS} to {MOST_SEEDS}, got {most!r}")
    if rule.statistic not in STATISTICS:
        raise UsageError(f"sweep: --estimator is {' or '.join(STATISTICS)}, not {rule.statistic!r}")
    return rule


def list_plans(store: Path) -> list[str]:
    """The names of the sweeps planned in a store (plain files in a real directory: links are not followed)."""
    folder = Path(store) / SWEEPS_DIR
    if not _real_dir(folder):
        return []
    return sorted(e.name[:-5] for e in os.scandir(folder)
                  if e.name.endswith(".json") and e.is_file(follow_symlinks=False) and plain_name(e.name[:-5]))


MAX_PLAN_BYTES = 16 * 2**20  # a plan of a million points is ~50 MB; one this size is not one ol wrote


def read_plain(path: Path) -> str:
    """A sweep's file's text (its plan, its Slurm tasks), refusing a link (the file's or its folder's) and an
    oversized file."""
    if not _real_dir(path.parent):
        raise FileNotFoundError(path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_PLAN_BYTES + 1)
    if len(data) > MAX_PLAN_BYTES:
        raise ValueError(f"larger than {MAX_PLAN_BYTES // 2**20} MiB")
    return data.decode()


def _real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def point_of(plan: Plan, info, index: dict[tuple, Point] | None = None) -> Point | None:
    """The point of ``plan`` a run (a RunInfo) trains: the index it recorded, or — for a run written before runs
    recorded it (schema 7) — its strategy, seed and the grid's options in its config."""
    if info.group != plan.name or info.experiment != plan.experiment:
        return None
    if info.sweep_point is not None:
        point = plan.points[info.sweep_point] if 0 <= info.sweep_point < len(plan.points) else None
        return point if point is not None and (point.strategy, point.seed) == (info.strategy, info.seed) else None
    settings = {k: info.config.get(k) for k in (plan.points[0].settings if plan.points else {})}
    return (index if index is not None else point_index(plan)).get((info.strategy, info.seed, _key(settings)))


def point_index(plan: Plan) -> dict[tuple, Point]:
    """A plan's points by what an older run recorded of them (see ``point_of``)."""
    return {(p.strategy, p.seed, _key(p.settings)): p for p in plan.points}


def _key(settings: dict) -> tuple:
    return tuple(sorted((k, _text(v)) for k, v in settings.items()))


def _text(value) -> str:
    """One spelling per value, so '1e-3' in an older plan matches 0.001 in a run's config."""
    if isinstance(value, bool) or str(value).lower() in ("true", "false"):
        return str(value).lower()
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)
