"""The console's state, folded from events: the same fold serves `ol train` and `ol tail`. What the run is and
how it ended is the store's one fold (its record); the rest is what the console shows as it goes."""

from __future__ import annotations

from dataclasses import dataclass, field

from ol.schemas import Checkpoint, Epoch, Event, Note, RunEnded, RunResumed, RunStarted, Step, scalar_points
from ol.store import ReadReport, RunFold, RunInfo
from ol.terminal import shown as _text

HISTORY = 120  # evaluation points kept for the curve


# the events that say what a run is and how it ended, folded into its record (not every step: this runs beside
# training, in its process, during `ol train`)
LIFECYCLE = (RunStarted, RunResumed, RunEnded)


@dataclass
class ConsoleState:
    fold: RunFold = field(default_factory=RunFold)
    epoch: int | None = None  # last completed epoch
    step: int = 0
    time: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    previous: dict[str, float] = field(default_factory=dict)  # for trend arrows
    curve: list[tuple[int, float]] = field(default_factory=list)  # (epoch, main metric)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the reader found wrong with the log, as it read
    problems_seen: int = 0

    @property
    def run(self) -> RunInfo:
        return self.fold.record

    @property
    def status(self) -> str:
        return self.run.ended or "running"

    @property
    def main_metric(self) -> str:
        """What the run said its main metric is (its contract); empty for older logs and loops that did not say."""
        return self.run.contract.main_metric

    @property
    def total_epochs(self) -> int | None:
        return self.run.contract.total_epochs

    def set_metric(self, name: str, value: float) -> None:
        if name in self.metrics:
            self.previous[name] = self.metrics[name]
        self.metrics[name] = value


def fold_report(state: ConsoleState, report: ReadReport) -> list[str]:
    """Take in what the reader has found wrong since the last call (lost ranges, damaged bytes, invalid
    events); return the warning lines to print for the new ones. Cheap when nothing is new."""
    found = len(report.lost) + len(report.damaged) + len(report.invalid)
    if found == state.problems_seen:
        return []
    state.problems_seen = found
    new = [p for p in report.problems() if p not in state.problems]
    state.problems += new
    return [f"[yellow]warning:[/] {_text(p)}" for p in new]


def fold(state: ConsoleState, event: Event) -> list[str]:
    """Apply one event; return the lines the scrolling (normal) console prints for it."""
    kind = type(event)
    if kind in LIFECYCLE:
        state.fold.add(event)
    if kind is Step:
        state.step, state.time = event.step, event.time
        if event.loss is not None:
            state.metrics["loss"] = event.loss  # every step: no trend bookkeeping on the hot path
        if event.lr is not None:
            state.metrics["lr"] = event.lr
        return []
    if kind is Epoch:
        return _fold_epoch(state, event)
    if kind is RunStarted:
        seed = "" if event.seed is None else f" · seed {event.seed}"
        return [f"[bold]{_text(event.experiment)}[/] · {_text(event.strategy or 'run')}{seed} · run "
                f"{_text(event.run_id)}"]
    if kind is RunResumed:
        state.step = event.step
        return [f"[cyan]resumed[/] from {_text(event.checkpoint or 'a checkpoint')} at step {event.step}"]
    if kind is Note:
        state.notes = (state.notes + [event.message])[-5:]
        style = {"warning": "yellow", "error": "red"}.get(event.level, "green")
        return [f"[{style}]{_text(event.level)}:[/] {_text(event.message)}"]
    if kind is Checkpoint:
        return [f"[dim]checkpoint ({_text(event.reason)}) at step {event.step} → {_text(event.path)}[/]"]
    if kind is RunEnded:
        style = {"completed": "green", "interrupted": "yellow"}.get(event.status, "red")
        error = f": {_text(event.error)}" if event.error else ""
        return [f"[{style}]run {event.status}[/] after {event.wall_time:.1f} s{error}"]
    for source, name, value in scalar_points(event):  # a hook's, a log(source=…)'s
        state.set_metric(f"{source}/{name}", value)
    return []


def _fold_epoch(state: ConsoleState, event: Epoch) -> list[str]:
    state.epoch, state.step, state.time = event.epoch, event.step, event.time
    for name, value in event.metrics.items():
        state.set_metric(name, value)
    main = state.main_metric
    if main and main not in event.metrics:
        return []  # a line per evaluation of the main metric; a run that named none gets one per epoch
    if main:
        state.curve = (state.curve + [(event.epoch, event.metrics[main])])[-HISTORY:]
    return [epoch_line(state, event)]


def line_metrics(state: ConsoleState, available) -> list[str]:
    """The metrics a line shows: the main one, then those the run asked to show first, then the rest."""
    order = dict.fromkeys([state.main_metric, *state.run.contract.display, *available])
    return [name for name in order if name and name in available]


def epoch_progress(state: ConsoleState) -> str:
    """'epoch 209 (210 of 2000 done)': the epoch is its number as every reader shows it (from 0, as in the
    log, SQL, plots, W&B and TensorBoard); the count beside it is how many epochs are done."""
    if state.epoch is None:
        return "epoch -"
    total = f" of {state.total_epochs}" if state.total_epochs else ""
    return f"epoch {state.epoch} ({state.epoch + 1}{total} done)"


def epoch_line(state: ConsoleState, event: Epoch, shown: int = 4) -> str:
    m = event.metrics
    total = f" of {state.total_epochs}" if state.total_epochs else ""
    parts = [f"epoch {event.epoch:>5} ({event.epoch + 1}{total} done)", f"step {event.step:>7}"]
    parts += [f"{_text(name)} {m[name]:.4f}" for name in line_metrics(state, m)[:shown]]
    parts.append(f"{event.time:7.1f} s")
    return "  ".join(parts)


def trend(state: ConsoleState, name: str) -> str:
    if name not in state.previous or name not in state.metrics:
        return " "
    now, before = state.metrics[name], state.previous[name]
    return "↑" if now > before else "↓" if now < before else "→"
