"""The console consumer: renders a run's log live (during `ol train`) or from another terminal.

Modes: ``normal`` (scrolling lines at evaluation epochs under a progress bar), ``live``
(full-screen layout: header, metrics sidebar with trends, a curve of the run's main metric), ``silent``
(progress bar only) and ``quiet`` (nothing). Which metrics it shows is what the run said in its contract
(its main metric and the ones to show first); nothing here knows an experiment's metric names.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from rich.console import Console, Group
from rich.layout import Layout
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ol.consumers.console.fold import ConsoleState, epoch_progress, fold, fold_report, line_metrics, trend
from ol.store import Follower, ReadReport
from ol.terminal import printable, shown

SPARK = "▁▂▃▄▅▆▇█"
SIDEBAR_ROWS = 12


def follow_console(run_dir: Path, mode: str, console: Console | None = None,
                   sidebar: list[tuple[str, str]] | None = None) -> ConsoleState:
    """Render ``run_dir``'s events as the one follower hands them on, until the run ends or its writer is gone;
    returns the final state. ``sidebar`` ((metric, label) pairs) overrides the metrics the run said to show."""
    console = console or Console()
    state = ConsoleState()
    follower = Follower(run_dir)
    events = follower.follow()
    if mode == "quiet":
        for _, event in events:
            fold(state, event)
        fold_report(state, follower.report)
    elif mode == "live":
        _live(events, follower.report, state, console, sidebar)
    else:
        _scrolling(events, follower.report, state, console, print_lines=(mode == "normal"))
    return state


def _scrolling(events, report: ReadReport, state: ConsoleState, console: Console, print_lines: bool) -> None:
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
                        TimeRemainingColumn(), console=console, transient=False)
    with progress:
        task = progress.add_task("epoch", total=None, info="")
        for _, event in events:
            for line in fold(state, event):
                if print_lines:
                    progress.console.print(line)  # the run's own text in it is escaped where the line is made (fold.py)
            for line in fold_report(state, report):  # lost events are said even under the bare progress bar
                progress.console.print(line)  # the run's own text in it is escaped where the line is made (fold.py)
            done = 0 if state.epoch is None else state.epoch + 1
            # the planned epochs are an upper bound: a run that stops at its target is complete where it stops
            total = done if state.status == "completed" else state.total_epochs
            progress.update(task, completed=done, total=total, info=_info(state),
                            description=shown(state.run.strategy or "epoch"))
        for line in fold_report(state, report):  # damage found by the last read, after the last event
            progress.console.print(line)  # the run's own text in it is escaped where the line is made (fold.py)


def _info(state: ConsoleState) -> str:
    """Beside the bar: the last step's loss (said as such: the epoch line's train_loss is the epoch's mean, a
    different number) and the main metric."""
    m = state.metrics
    beside = [("step loss", "loss")] if "loss" in m else []
    if state.main_metric and state.main_metric in m and state.main_metric != "loss":
        beside.append((state.main_metric, state.main_metric))
    return "  ".join(f"{shown(label)} {m[name]:.4f}" for label, name in beside)  # a markup column: names escaped


def _live(events, report: ReadReport, state: ConsoleState, console: Console, sidebar) -> None:
    with Live(render_live(state, sidebar), console=console, refresh_per_second=4, screen=False,
              transient=False) as live:
        last = 0.0
        for _, event in events:
            fold(state, event)
            fold_report(state, report)
            now = time.monotonic()
            if now - last > 0.1:  # re-render at most ten times a second, however fast events come
                live.update(render_live(state, sidebar))
                last = now
        fold_report(state, report)
        live.update(render_live(state, sidebar))


def render_live(state: ConsoleState, sidebar: list[tuple[str, str]] | None = None) -> Layout:
    """The full-screen view: header, metrics sidebar with trends, the main metric's curve, notes."""
    layout = Layout()
    layout.split_column(Layout(_header(state), name="header", size=3), Layout(name="body"))
    layout["body"].split_row(Layout(_sidebar(state, sidebar), name="sidebar", ratio=1),
                             Layout(_curve_panel(state), name="curve", ratio=2))
    return layout


def _header(state: ConsoleState) -> Panel:
    run = state.run
    text = Text.assemble((printable(f"{run.experiment or 'run'} "), "bold"), printable(f"· {run.strategy or '-'} "),
                         f"· seed {run.seed} " if run.seed is not None else "",
                         f"· {epoch_progress(state)} · step {state.step} · {state.time:.1f} s · ",
                         (state.status, "green" if state.status in ("running", "completed") else "yellow"))
    return Panel(text, title=Text(printable(run.run_id or "ol")), title_align="left")


def _sidebar(state: ConsoleState, sidebar) -> Panel:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim")
    table.add_column(justify="right")
    table.add_column()
    rows = sidebar or [(name, name) for name in line_metrics(state, ["loss", "lr", *state.metrics])]
    for name, label in rows[:SIDEBAR_ROWS]:
        if name in state.metrics:
            table.add_row(label, f"{state.metrics[name]:.4g}", trend(state, name))
    return Panel(table, title="metrics", title_align="left")


def _curve_panel(state: ConsoleState) -> Panel:
    values = [v for _, v in state.curve][-80:]
    finite = [v for v in values if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (high - low) or 1.0  # scaled to what is shown: an accuracy and a loss both fill the height
    spark = "".join(SPARK[min(len(SPARK) - 1, max(0, int((v - low) / span * len(SPARK))))] if math.isfinite(v)
                    else " " for v in values)
    first = state.curve[0][0] if state.curve else 0
    last = state.curve[-1][0] if state.curve else 0
    waiting = "waiting for the first evaluation…" if state.main_metric else "this run named no main metric"
    direction = state.run.contract.direction
    better = f", {direction} is better" if direction else ""
    body = Group(Text(spark or waiting, style="cyan"),
                 Text(f"epochs {first}–{last} · {low:.4g} to {high:.4g}{better}" if state.curve else "", style="dim"),
                 Text(""), *[Text(printable(f"• {n}")) for n in state.notes],
                 *[Text(printable(f"⚠ {p}"), style="yellow") for p in state.problems])
    return Panel(body, title=state.main_metric or "main metric", title_align="left")
