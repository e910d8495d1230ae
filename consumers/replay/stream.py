"""Replaying a run's log into another tool, after the fact or following it live.

The log's events become one record per step, in strictly increasing step order (W&B drops a step
lower than one it already has): step scalars, epoch metrics (with an ``epoch`` key) at the step
where the epoch ended, hook metrics as ``hooks/<hook>/<metric>``, scalars logged from another source as
``<source>/<metric>``, arrays as histograms. A step
is sent once it is complete: when a later step's training event arrives, or the run ends.
Each destination's position (the last step it has) is kept under ``<run>/.cache/replay/``, so
replaying again sends only what is new.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ol.schemas import (
    ArrayData,
    Checkpoint,
    ConfigUpdated,
    Epoch,
    Event,
    HistogramData,
    HookMetrics,
    ImageData,
    RunEnded,
    RunResumed,
    RunStarted,
    Scalars,
    Step,
    SummaryUpdated,
    TableData,
    TargetReached,
)
from ol.store import (
    CACHE_DIR,
    Follower,
    RunFold,
    damage_summary,
    ensure_dir,
    main_fields,
    project,
    replace_file,
    run_info,
    survives,
)

REPLAY_DIR = "replay"


@dataclass
class StepRecord:
    step: int
    wall_time: float
    scalars: dict[str, float] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    # sent as each sink's own kinds
    media: dict[str, HistogramData | ImageData | TableData] = field(default_factory=dict)


class Sink(Protocol):
    """A destination: receives records in increasing step order, then the end of the run. ``destination``
    names where it sends (the key replay keeps its position under, which makes a replay idempotent)."""

    destination: str

    def log(self, record: StepRecord) -> None: ...

    def checkpoint(self, run_dir: Path, event: Checkpoint) -> None: ...

    def finish(self, status: str, summary: dict) -> None: ...


class StepMerger:
    """Folds events into complete per-step records. Not thread-safe."""

    def __init__(self, after_step: int = -1):
        self.after_step = after_step  # the destination already has every step up to this one
        self.last_sent = after_step
        self.pending: dict[int, StepRecord] = {}
        self.started: RunStarted | None = None
        self.checkpoints: list[Checkpoint] = []
        self.warnings: list[str] = []
        self.final: dict[str, float] = {}
        self.run = RunFold()  # what the run is and how it went, folded as every reader folds it
        self._stretch_start = 0.0
        self._backbone = -1  # highest step of a training event (step or epoch) seen

    def add(self, event: Event) -> list[StepRecord]:
        kind = type(event)
        if kind is Step:  # the hot path: one per step of the run
            step = event.step
            if step > self.last_sent:
                record = self._record(step, event.time)
                record.scalars.update(event.extra)
                if event.loss is not None:
                    record.scalars["loss"] = event.loss
                if event.lr is not None:
                    record.scalars["lr"] = event.lr
            return self._complete_below(step)
        if kind is Epoch:
            # a restated epoch's metrics were sent as they were logged: only the epoch is new
            metrics = {} if event.restated else event.metrics
            self._put(event.step, event.time, {**metrics, "epoch": float(event.epoch)})
            self.run.add(event)
            return self._complete_below(event.step)
        if kind in (RunStarted, RunResumed, RunEnded, TargetReached, ConfigUpdated, SummaryUpdated):
            self.run.add(event)
        if kind is HookMetrics:
            self._put(event.step, None, {f"hooks/{event.hook}/{k}": v for k, v in event.metrics.items()})
        elif kind is Scalars:  # log(source=...): named by its identity, so eval/loss never lands on the train loss
            self._put(event.step, None, {f"{event.source}/{k}": v for k, v in event.values.items()})
        elif kind is ArrayData:
            key = f"hooks/{event.hook}/{event.name}" if event.hook else event.name
            values = np.frombuffer(event.data, dtype=np.dtype(event.dtype)).reshape(event.shape)
            self._record(event.step, None).arrays[key] = values
        elif kind in (HistogramData, ImageData, TableData):
            if event.step > self.last_sent:  # named as scalars are: train's plain, another source's prefixed
                key = event.name if event.source == "train" else f"{event.source}/{event.name}"
                self._record(event.step, None).media[key] = event
        elif kind is Checkpoint:
            self.checkpoints.append(event)
        elif kind is RunStarted:
            self.started, self._stretch_start = event, event.started_at
        elif kind is RunResumed:
            self._resume(event)
        return []

    def finish(self) -> list[StepRecord]:
        """Everything still pending (the run has ended, or the caller stops here)."""
        return self._complete_below(None)

    def _record(self, step: int, time: float | None) -> StepRecord:
        """The pending record of ``step``; a known ``time`` (seconds into the stretch) sets its wall time."""
        record = self.pending.get(step)
        if record is None:
            record = self.pending[step] = StepRecord(step, self._stretch_start + (time or 0.0))
        elif time is not None:
            record.wall_time = self._stretch_start + time
        return record

    def _put(self, step: int, time: float | None, scalars: dict[str, float]) -> None:
        if step <= self.last_sent:
            return  # already at the destination (an earlier replay) or abandoned by a resume
        self._record(step, time).scalars.update(scalars)

    def _complete_below(self, step: int | None) -> list[StepRecord]:
        """Records of steps below ``step`` (all of them when None), in step order."""
        if step is not None and step > self._backbone:
            self._backbone = step
        limit = self._backbone if step is not None else None
        out = [record for s, record in self.pending.items() if limit is None or s < limit]
        if not out:
            return []
        for record in out:
            del self.pending[record.step]
            self.final.update(record.scalars)
        if len(out) > 1:
            out.sort(key=lambda r: r.step)
        self.last_sent = out[-1].step
        return out

    def _resume(self, event: RunResumed) -> None:
        self._stretch_start = event.resumed_at
        self._backbone = min(self._backbone, event.step)
        for step in [s for s in self.pending if not survives(s, event.step)]:
            del self.pending[step]  # the resume projection: those steps never happened
        self.checkpoints = [c for c in self.checkpoints if survives(c.step, event.step)]
        if self.last_sent > event.step and self.last_sent > self.after_step:
            self.warnings.append(f"the run was resumed at step {event.step} after steps up to {self.last_sent} "
                                 "were sent; the destination keeps those (it cannot rewrite history)")

    def summary(self) -> dict:
        out = dict(self.final)
        run = self.run.record
        # what the run said it is and how its main metric went, so a dashboard need not guess: the record's fields
        # (store/read/record.py), prefixed to keep them apart from the run's own metrics
        out.update({f"ol_{k}": v for k, v in main_fields(run).items() if v is not None})
        if run.wall_time:
            out["ol_wall_time"] = run.wall_time  # the run's own seconds, every stretch of it
        out.update(run.summary)  # what the run put in run.summary has the last word
        return out


def position_path(run_dir: Path, destination: str) -> Path:
    return Path(run_dir) / CACHE_DIR / REPLAY_DIR / f"{destination}.json"


def load_position(run_dir: Path, destination: str) -> dict:
    try:
        return json.loads(position_path(run_dir, destination).read_text())
    except (OSError, ValueError):
        return {"last_step": -1, "checkpoints": []}


def save_position(run_dir: Path, destination: str, position: dict) -> None:
    """Kept beside the run, never through a link planted in its ``.cache`` (store/log/derived.py)."""
    folder = ensure_dir(run_dir, CACHE_DIR, REPLAY_DIR)
    replace_file(folder, f"{destination}.json", json.dumps(position).encode())


@dataclass
class ReplayResult:
    steps: int = 0
    points: int = 0
    events: int = 0
    last_step: int = -1
    status: str = ""
    still_running: bool = False
    warnings: list[str] = field(default_factory=list)


def replay(run_dir: Path, sink: Sink, destination: str | None = None, follow: bool = False, artifacts: bool = False,
           on_progress: Callable[[int], None] | None = None) -> ReplayResult:
    """Send ``run_dir`` to ``sink`` from the destination's saved position (``sink.destination`` unless
    given); advance it only on success."""
    destination = destination or sink.destination
    position = load_position(run_dir, destination)
    merger = StepMerger(after_step=position["last_step"])
    reader = Follower(run_dir)
    result = ReplayResult()
    # what the log holds now gets the whole resume rule (a destination cannot take back what a later resume
    # abandoned); what arrives later, as it arrives
    events: Iterable = reader.follow(settled=True) if follow else project(reader.events())
    for _, event in events:
        result.events += 1
        for record in merger.add(event):
            _send(sink, record, result)
        if on_progress and result.events % 1000 == 0:
            on_progress(result.events)
    info = run_info(run_dir)
    result.still_running = info.status == "running"
    if not result.still_running:
        for record in merger.finish():
            _send(sink, record, result)
    if artifacts:
        done = set(position.get("checkpoints", []))
        for ckpt in merger.checkpoints:
            if ckpt.path not in done and (Path(run_dir) / ckpt.path).is_file():
                sink.checkpoint(Path(run_dir), ckpt)
                done.add(ckpt.path)
        position["checkpoints"] = sorted(done)
    result.status = info.status
    result.last_step = merger.last_sent
    damage = reader.report.problems()
    result.warnings = merger.warnings + ([damage_summary(info.run_id, damage)] if damage else [])
    if merger.run.record.config_updates and hasattr(sink, "update_config"):
        sink.update_config(merger.run.record.config_updates)  # run.config.update(...) after the start
    sink.finish(info.status, merger.summary())
    position["last_step"] = max(position["last_step"], merger.last_sent)
    save_position(run_dir, destination, position)
    if on_progress:
        on_progress(result.events)
    return result


def _send(sink: Sink, record: StepRecord, result: ReplayResult) -> None:
    sink.log(record)
    result.steps += 1
    result.points += len(record.scalars)
