"""summary.json and experiment_config.json: projections of a finished run's log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from ol.schemas import Epoch, RunStarted, Step
from ol.store.log.derived import replace_file
from ol.store.log.reader import LogReader
from ol.store.log.rundir import log_path, writer_active
from ol.store.read.fold import fold, status_of
from ol.store.read.listing import paused_gc, run_started
from ol.store.read.projection import project
from ol.store.read.record import main_fields

SUMMARY = "summary.json"
EXPERIMENT_CONFIG = "experiment_config.json"


def summarize(run_dir: Path) -> dict[str, Any]:
    with paused_gc():  # a step event per step, made at once at the run's end: the collector would only walk them
        events = [e for _, e in project(LogReader(log_path(run_dir)).events())]
    run = fold(events)  # the record: status, progress, target and the main metric, as every reader folds them
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    steps = [e for e in events if isinstance(e, Step)]
    epochs = [e for e in events if isinstance(e, Epoch)]
    wall = run.wall_time or 0.0
    initial: dict[str, float] = {}
    final: dict[str, float] = {}
    for e in epochs:
        for k, v in e.metrics.items():
            initial.setdefault(k, v)
            final[k] = v
    return {
        "run_id": run.run_id or run_dir.name,
        "experiment": run.experiment or run_dir.parent.name,
        "strategy": run.strategy,
        "seed": run.seed,
        "group": run.group,
        "status": status_of(run, writing=writer_active(run_dir)),
        "wall_time_s": wall,
        "steps": run.last_step or 0,
        # epochs are numbered from 0 everywhere (the log, SQL, plots, W&B, TensorBoard, the console); a count
        # of them says "epochs"
        "epochs": epochs[-1].epoch + 1 if epochs else 0,
        "last_epoch": epochs[-1].epoch if epochs else None,
        "steps_per_s": (len(steps) / wall) if wall > 0 else None,
        "parameters": started.parameters if started else None,
        "initial": initial,
        "final": final,
        "delta": {k: final[k] - initial[k] for k in final if k in initial},
        # what the run said it is (its contract), never a guess from config keys or metric names, and how its main
        # metric went: the record's fields, named as every listing of runs names them (store/read/record.py)
        **main_fields(run),
        "summary": run.summary,  # what the run itself put in run.summary
        "config_updates": run.config_updates,  # run.config.update(...) after the start
    }


def experiment_config(run_dir: Path) -> dict[str, Any]:
    """The resolved configuration and environment, in the shape `ol train --config` reads."""
    event = run_started(run_dir)
    if event is None:
        return {}
    return {"experiment": event.experiment, "strategy": event.strategy, "seed": event.seed, "group": event.group,
            "config": event.config, "environment": msgspec.to_builtins(event.environment)}


def write_derived(run_dir: Path) -> Path:
    """(Re)write summary.json and experiment_config.json from the log; returns the summary path."""
    run_dir = Path(run_dir)
    _write_json(run_dir / EXPERIMENT_CONFIG, experiment_config(run_dir))
    return _write_json(run_dir / SUMMARY, summarize(run_dir))


def _write_json(path: Path, data: dict) -> Path:
    # replaced whole, never half-written, and never through a link planted where it goes
    return replace_file(path.parent, path.name, (json.dumps(data, indent=2, allow_nan=True) + "\n").encode())
