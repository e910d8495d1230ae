"""One fold of a run's events into what it is and how it went: its view.

Every reader that states a run's status, progress, whether it reached its target, or the best and final
value of its main metric takes them from here — the catalog (`ol runs`, the SQL runs view, the dashboard),
summary.json, replay's summary — so they can never disagree. What the run *is* (main metric, direction,
target, length) comes from its contract in run-started; reaching the target is the producer's own
target-reached event. Nothing here knows an experiment's metric names.

The fold takes events in log order and needs none in particular: fed only a log's first and last frames (as
the catalog does, to stay cheap) it knows identity, status and progress; fed the whole projected log it also
knows the main metric's history; the index folds each sealed run's whole log once and keeps its view.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import msgspec

from ol.schemas import (
    ConfigUpdated,
    Epoch,
    Event,
    RunContract,
    RunEnded,
    RunResumed,
    RunStarted,
    Step,
    SummaryUpdated,
    TargetReached,
)
from ol.store.projection import project
from ol.store.rundir import log_path


@dataclass
class RunView:
    run_id: str = ""
    experiment: str = ""
    strategy: str = ""
    seed: int | None = None
    group: str = ""
    contract: RunContract = field(default_factory=RunContract)
    ended: str | None = None  # the status a run-ended event gave, when it is the last lifecycle event
    error: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    wall_time: float | None = None  # seconds, summed over every stretch the events show
    last_step: int | None = None
    last_epoch: int | None = None
    target_metric: str | None = None  # from the producer's target-reached event
    target_value: float | None = None
    target_epoch: int | None = None
    target_step: int | None = None
    best: float | None = None  # the main metric over the epochs, in the declared direction
    best_epoch: int | None = None
    final: float | None = None
    config_updates: dict = field(default_factory=dict)  # run.config.update(...) after the start, merged
    summary: dict = field(default_factory=dict)  # run.summary[...] = …, merged

    def status(self, writing: bool) -> str:
        """completed / failed / interrupted as the last run-ended said; otherwise running while a writer
        holds the run, else crashed (it stopped without saying so)."""
        if self.ended is not None:
            return self.ended
        return "running" if writing else "crashed"

    @property
    def reached_target(self) -> bool | None:
        if self.target_epoch is not None or self.target_step is not None:
            return True
        return None if self.contract.target is None else False


class RunFold:
    """Apply events in log order with ``add``; read ``view`` at any point."""

    def __init__(self):
        self.view = RunView()
        self._main_points: list[tuple[int, int, float]] = []  # (step, epoch, value) of the main metric

    def add(self, event: Event) -> None:
        kind, v = type(event), self.view
        if kind is Step:
            self.saw_step(event.step, event.epoch)
        elif kind is Epoch:
            self.saw_step(event.step, event.epoch)
            self._main(event)
        elif kind is RunStarted:
            v.run_id, v.experiment, v.strategy, v.seed = event.run_id, event.experiment, event.strategy, event.seed
            v.group, v.contract, v.started_at = event.group, event.contract, event.started_at
            v.ended = None
        elif kind is RunResumed:  # steps past event.step never happened (the resume projection)
            v.ended, v.error = None, ""
            if self._main_points and self._main_points[-1][0] > event.step:
                self._main_points = [p for p in self._main_points if p[0] <= event.step]
                self._recount()
            if v.target_step is not None and v.target_step > event.step:  # reached only on an abandoned stretch
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

    def saw_step(self, step: int, epoch: int | None) -> None:
        """A training step (or a block of them, by its last): progress is the latest one in log order."""
        self.view.last_step = step
        if epoch is not None:
            self.view.last_epoch = epoch

    def _main(self, event: Epoch) -> None:
        main = self.view.contract.main_metric
        value = event.metrics.get(main) if main else None
        if value is not None:
            self._main_points.append((event.step, event.epoch, value))
            self._take(event.epoch, value)

    def _take(self, epoch: int, value: float) -> None:
        v, direction = self.view, self.view.contract.direction
        v.final = value
        if direction is None or not math.isfinite(value):
            return
        if v.best is None or (value < v.best if direction == "lower" else value > v.best):
            v.best, v.best_epoch = value, epoch

    def _recount(self) -> None:
        self.view.best = self.view.best_epoch = self.view.final = None
        for _, epoch, value in self._main_points:
            self._take(epoch, value)


def fold(events) -> RunView:
    """The view of a sequence of events (already projected when they are a whole log)."""
    folding = RunFold()
    for event in events:
        folding.add(event)
    return folding.view


def fold_log(run_dir: Path) -> RunView:
    """The view of a whole log, folded now. The index keeps each sealed run's view (store/indexer.py), so
    this runs only for a live run, or for a run the index cannot hold. Unreadable parts are skipped, as
    every reader does; `ol verify` reports them."""
    from ol.store.reader import LogReader  # the full reader only when a whole log is wanted

    return fold(e for _, e in project(LogReader(log_path(run_dir)).events()))


def encode_view(view: RunView) -> dict:
    out = asdict(view)
    out["contract"] = msgspec.to_builtins(view.contract)
    return out
