"""What `ol train` does once its arguments are parsed: which runs to start or resume, in order, each
trained to its end and its summary written — the orchestration, so a script or a sweep worker gets the
same behaviour as the command line without going through it.

The caller watches: ``Watch.started(run)`` is where the CLI attaches its console, ``finished`` where it
reports, ``skipped`` where a group member is already done. Nothing here prints.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msgspec

from ol.errors import StoreError, UsageError
from ol.producer import hooks, training
from ol.producer.experiment import Experiment
from ol.producer.run import Run
from ol.schemas import RunStarted
from ol.schemas.launch import RunSettings
from ol.store.read.listing import RunInfo, newest, run_started, scan_runs, started_order
from ol.store.read.refs import resolve_run
from ol.store.read.summary import SUMMARY

MAX_SEED = 2**32 - 1  # what NumPy's seeding accepts; torch and random take it too


@dataclass
class LaunchPlan:
    """A launch: which runs (an experiment's strategy or all of them, a seed, a group, or a run to continue)
    and how they train (``settings``, as `ol train`'s flags or a sweep's plan give them)."""

    experiment: Experiment
    store: Path
    settings: RunSettings = RunSettings()
    strategy: str | None = None  # None: the experiment's first; "all": one run per strategy in one group
    seed: int | None = None
    config_file: dict[str, Any] | None = None  # a loaded experiment_config.json (explicit values win over it)
    group: str = ""
    resume: str | None = None  # None: start new runs; "": the latest run; else the run to continue
    sweep_point: int | None = None  # the point of sweep ``group`` the run trains

    def hooks(self) -> list:
        s = self.settings
        return hooks.resolve(s.hook_groups, s.hook_names, s.trajectory_every, s.trajectory_dim)


class Watch(Protocol):
    def started(self, run: Run) -> None: ...

    def finished(self, run_dir: Path, status: str, summary: Path) -> None: ...

    def skipped(self, strategy: str, run_id: str) -> None: ...


@dataclass(frozen=True)
class Trained:
    """What a launch did with one run (where, how it ended, its summary file): not a description of the run,
    which readers get as the store's run record."""

    run_dir: Path
    status: str
    summary: Path


def check_seed(seed: int, where: str) -> int:
    if not 0 <= seed <= MAX_SEED:
        raise UsageError(f"train: {where} must be between 0 and {MAX_SEED:,}, got {seed}")
    return seed


def launch(plan: LaunchPlan, watch: Watch) -> list[Trained]:
    """Start (or resume) the plan's runs one after another; stops after one that was interrupted."""
    plan.hooks()  # bad names fail here, before any work
    _check_writable(plan.store)
    return _resume(plan, watch) if plan.resume is not None else _fresh(plan, watch)


def _fresh(plan: LaunchPlan, watch: Watch) -> list[Trained]:
    exp, file = plan.experiment, plan.config_file or {}
    source = _order_source(plan)
    # a run fed another's order is of that run's strategy unless told otherwise
    strategy = plan.strategy or (source.strategy if source else None) or file.get("strategy") or exp.strategies[0]
    seed = plan.seed if plan.seed is not None else check_seed(int(file.get("seed") or 0), "the config file's seed")
    config = exp.resolve_config(plan.settings.preset, {**file.get("config", {}), **_source_data(exp, source),
                                                       **plan.settings.overrides})
    strategies = list(exp.strategies) if strategy == "all" else [exp.check_strategy(strategy)]
    group = plan.group or (f"{exp.name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
                           if strategy == "all" else "")
    outcomes: list[Trained] = []
    for name in strategies:
        outcomes.append(_start(plan, config, name, seed, group, watch))
        if outcomes[-1].status == "interrupted":
            break
    return outcomes


def _order_source(plan: LaunchPlan) -> RunStarted | None:
    """The first event of the run --order-from names (None without it)."""
    if not plan.settings.order_from:
        return None
    first = run_started(resolve_run(plan.store, plan.settings.order_from, index=False))
    if first is None:
        raise UsageError(f"train: run {plan.settings.order_from} has no readable run-started event to take its "
                         "order from")
    return first


def _source_data(exp: Experiment, source: RunStarted | None) -> dict[str, Any]:
    """The source run's data seed, so the sample ids it recorded index the same training set (an explicit
    --data-seed still wins)."""
    if source is None or "data_seed" not in {f.name for f in msgspec.structs.fields(exp.config_type)}:
        return {}
    data_seed = source.config.get("data_seed", -1)
    return {"data_seed": data_seed if isinstance(data_seed, int) and data_seed >= 0 else (source.seed or 0)}


def _resume(plan: LaunchPlan, watch: Watch) -> list[Trained]:
    s = plan.settings
    changed = [flag for flag, given in (("--preset", s.preset), ("--seed", plan.seed), ("--config", plan.config_file),
                                        ("--order-from", s.order_from), ("--record-order", s.record_order or None))
               if given is not None] + sorted(f"--{k.replace('_', '-')}" for k in s.overrides)
    if changed:
        # a resumed run continues exactly what it started as; a silently ignored --epochs 25 would lie
        raise UsageError(f"train: {', '.join(changed)} cannot change a run on --resume: it continues with the "
                         "config it started with (`ol events RUN --kind run_started` shows it)",
                         hint="start a new run to train something else")
    exp = plan.experiment
    if plan.strategy == "all":
        return _resume_group(plan, watch)
    if plan.resume:
        run_dir = resolve_run(plan.store, plan.resume, index=False)
    else:
        runs = [r for r in scan_runs(plan.store, experiment=exp.name)
                if not plan.strategy or r.strategy == plan.strategy]
        if not runs:
            raise UsageError(f"train: no {exp.name} run in {plan.store} to resume", hint="start one without --resume")
        run_dir = newest(runs).dir
    return [_continue(plan, run_dir, watch)]


def _resume_group(plan: LaunchPlan, watch: Watch) -> list[Trained]:
    """Finish the newest group (or ``plan.group``): resume its unfinished members, start its missing ones."""
    exp = plan.experiment
    runs = [r for r in scan_runs(plan.store, experiment=exp.name) if r.group]
    if plan.group:
        runs = [r for r in runs if r.group == plan.group]
    if not runs:
        raise UsageError(f"train: no grouped {exp.name} run in {plan.store} to resume",
                         hint="use --strategy all without --resume")
    group = newest(runs).group
    members: dict[str, RunInfo] = {}
    for r in sorted((r for r in runs if r.group == group), key=started_order):
        members[r.strategy] = r  # the newest run of each strategy speaks for it
    outcomes: list[Trained] = []
    for name in exp.strategies:
        info = members.get(name)
        if info is not None and info.status == "completed":
            watch.skipped(name, info.run_id)
            continue
        if info is not None:
            outcomes.append(_continue(plan, info.dir, watch))
        else:
            first = next(iter(members.values()))
            config = exp.resolve_config(None, first.config)
            outcomes.append(_start(plan, config, name, first.seed or 0, group, watch))
        if outcomes[-1].status == "interrupted":
            break
    return outcomes


def _start(plan: LaunchPlan, config, strategy: str, seed: int, group: str, watch: Watch) -> Trained:
    return _finish(*training.start(plan, config, strategy, seed, group, on_started=watch.started), watch)


def _continue(plan: LaunchPlan, run_dir: Path, watch: Watch) -> Trained:
    return _finish(*training.resume(plan, run_dir, on_started=watch.started), watch)


def _finish(run_dir: Path, status: str, watch: Watch) -> Trained:
    summary = run_dir / SUMMARY  # written by the run at its close, as every run's is
    watch.finished(run_dir, status, summary)
    return Trained(run_dir, status, summary)


def _check_writable(store: Path) -> None:
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"train: cannot create store {store}: {e.strerror}", hint="pass a writable --store") from None
    if not os.access(store, os.W_OK | os.X_OK):
        raise StoreError(f"train: store {store} is not writable", hint="pass a writable --store")
