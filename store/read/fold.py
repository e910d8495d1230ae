"""One fold of a run's events into what it is and how it went: its record (store/read/record.py's ``RunInfo``).

Every reader that states a run's status, progress, whether it reached its target, or the best and final
value of its main metric takes them from here — the catalog (`ol runs`, the SQL runs view, the dashboard),
summary.json, replay's summary — so they can never disagree. What the run *is* (main metric, direction,
target, length) comes from its contract in run-started; reaching the target is the producer's own
target-reached event. Nothing here knows an experiment's metric names.

The fold takes events in log order and needs none in particular: fed only a log's first and last frames (as
the catalog does, to stay cheap) it knows identity, status and progress; fed the whole projected log it also
knows the main metric's history; the index folds each sealed run's whole log once and keeps its record.

"Best" is decided here, once, wherever the main metric was logged: an epoch's metrics, ``run.log`` scalars of
any source (a validation metric of Lightning, the Trainer or a wandb script), a hook's metrics, or the training
step's own scalars. The contract names the metric (``val_acc``, or ``eval/val_acc`` to say its source). When a
run logs the name in several of those places, the first kind in that order that has it is the main metric's
history — the kinds are never mixed, so the answer does not depend on how events interleave.
"""

from __future__ import annotations

import math
from pathlib import Path

from ol.schemas import (
    ConfigUpdated,
    Epoch,
    Event,
    HookMetrics,
    RunEnded,
    RunResumed,
    RunStarted,
    Scalars,
    Step,
    SummaryUpdated,
    TargetReached,
    scalar_points,
)
from ol.store.log.rundir import log_path
from ol.store.read.projection import project, survives
from ol.store.read.record import RunInfo, job_label

# where a main metric may have been logged, in the order that decides which of them is its history
EPOCHS, SOURCED, HOOKS, STEPS = range(4)
LOGGED_BY = {Epoch: EPOCHS, Scalars: SOURCED, HookMetrics: HOOKS, Step: STEPS}


def status_of(info: RunInfo, writing: bool) -> str:
    """completed / failed / interrupted as the last run-ended said; otherwise running while a writer holds the
    run, else crashed (it stopped without saying so)."""
    if info.ended is not None:
        return info.ended
    return "running" if writing else "crashed"


class RunFold:
    """Apply events in log order with ``add`` (and a step table's points with ``add_points``) to ``record`` (a
    new one, or the one given); read it at any point."""

    def __init__(self, record: RunInfo | None = None):
        self.record = record if record is not None else RunInfo()
        # (step, epoch, value) of the main metric, by where it was logged (EPOCHS … STEPS)
        self._points: dict[int, list[tuple[int, int | None, float]]] = {}

    def add(self, event: Event) -> None:
        kind, v = type(event), self.record
        if kind in LOGGED_BY:
            if kind is Step or kind is Epoch:
                self.saw_step(event.step, event.epoch)
            main = v.contract.main_metric
            for source, name, value in scalar_points(event) if main else ():
                if main == name or main == f"{source}/{name}":
                    self._point(LOGGED_BY[kind], event.step, event.epoch, value)
        elif kind is RunStarted:
            v.run_id, v.experiment, v.strategy, v.seed = event.run_id, event.experiment, event.strategy, event.seed
            v.group, v.contract, v.started_at, v.config = event.group, event.contract, event.started_at, event.config
            v.rank, v.world_size, v.host = event.rank, event.world_size, event.environment.host
            v.name, v.tags, v.sweep_point, v.recorder = event.name, list(event.tags), event.sweep_point, event.recorder
            job = event.environment.job
            v.job, v.output = job_label(job), job.output if job is not None else ""
            v.ended = None
        elif kind is RunResumed:  # steps past event.step never happened (the resume projection)
            v.ended, v.error = None, ""
            for where, points in self._points.items():
                self._points[where] = [p for p in points if survives(p[0], event.step)]
            self._recount()
            if not survives(v.target_step, event.step):  # reached only on an abandoned stretch
                v.target_metric = v.target_value = v.target_epoch = v.target_step = None
        elif kind is RunEnded:
            v.ended, v.error, v.ended_at = event.status, event.error, event.ended_at
            v.wall_time = (v.wall_time or 0.0) + event.wall_time
        elif kind is ConfigUpdated:
            v.config_updates.update(event.values)
        elif kind is SummaryUpdated:
            v.summary.update(event.values)
        elif kind is TargetReached and v.target_step is None:
            v.target_metric, v.target_value, v.target_epoch, v.target_step = (event.metric, event.value,
                                                                              event.epoch, event.step)

    def add_points(self, steps, epochs, values) -> None:
        """The training step's own values of the main metric, in log order, already projected (a step table's
        column: where the index reads steps, as columns rather than events)."""
        for step, epoch, value in zip(steps, epochs, values, strict=True):
            if value is not None:
                self._point(STEPS, int(step), epoch, float(value))

    def saw_step(self, step: int, epoch: int | None) -> None:
        """A training step (or a block of them, by its last): progress is the latest one in log order."""
        self.record.last_step = step
        if epoch is not None:
            self.record.last_epoch = int(epoch)  # the epoch it is in (a Trainer's 2.5 is in epoch 2)

    def _point(self, where: int, step: int, epoch: int | float | None, value: float) -> None:
        epoch = None if epoch is None else int(epoch)  # the epoch a point is in, as progress counts it
        points = self._points.setdefault(where, [])
        points.append((step, epoch, value))
        held = [k for k, p in self._points.items() if p]
        if where != min(held):
            return  # a kind earlier in the order is the main metric's history
        if len(points) == 1 and len(held) > 1:
            self._recount()  # this kind appeared and replaces the one counted so far
        else:
            self._take(step, epoch, value)

    def _take(self, step: int, epoch: int | None, value: float) -> None:
        v, direction = self.record, self.record.contract.direction
        v.final = value
        if direction is None or not math.isfinite(value):
            return
        if v.best is None or (value < v.best if direction == "lower" else value > v.best):
            v.best, v.best_epoch, v.best_step = value, epoch, step

    def _recount(self) -> None:
        v = self.record
        v.best = v.best_epoch = v.best_step = v.final = None
        kept = [where for where, points in self._points.items() if points]
        for step, epoch, value in self._points[min(kept)] if kept else []:
            self._take(step, epoch, value)


def fold_data(data) -> RunInfo:
    """The record of a whole log read as Arrow (store/read/arrow.py's RunData): its events, projected, and the main
    metric's values in its step table — the one fold of a run, live or sealed."""
    from ol.store.read.arrow import project_long, project_steps

    folding = RunFold()
    for _, event in project(data.events):
        folding.add(event)
    name = folding.record.contract.main_metric.removeprefix("train/")
    if name and name in data.steps.column_names:  # projected only when the step table holds the main metric
        steps = project_steps(data.steps, data.events)
        folding.add_points(steps.column("step").to_pylist(), steps.column("epoch").to_pylist(),
                           steps.column(name).to_pylist())
    if name and data.long is not None and data.long.num_rows:
        import pyarrow.compute as pc

        mine = project_long(data.long.filter(pc.equal(data.long.column("name"), name)), data.events)
        folding.add_points(mine.column("step").to_pylist(), mine.column("epoch").to_pylist(),
                           mine.column("value").to_pylist())
    folding.record.folded = True
    return folding.record


def fold(events) -> RunInfo:
    """The record of a sequence of events (already projected when they are a whole log)."""
    folding = RunFold()
    for event in events:
        folding.add(event)
    return folding.record


def fold_log(run_dir: Path) -> RunInfo:
    """The record of a whole log, folded now (``fold_data``). The index keeps each sealed run's record
    (store/index/indexer.py), so this runs only for a live run, or for a run the index cannot hold. Unreadable parts
    are skipped, as every reader does; `ol verify` reports them."""
    from ol.store.read.arrow import read_run  # the full reader only when a whole log is wanted

    return fold_data(read_run(log_path(run_dir)))
