"""`ol replay`: mirror runs into Weights & Biases or TensorBoard, after the fact or live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from ol.cli.common import DEFAULT_STORE, RunsArgument, StoreOption, console, err_console, warn
from ol.consumers.replay.stream import replay
from ol.errors import OlError, UsageError
from ol.schemas import RunStarted
from ol.store import Follower, resolve_run, run_started


def replay_cmd(
    runs: RunsArgument,
    to: Annotated[str, typer.Option("--to", help="wandb or tensorboard.")],
    store: StoreOption = DEFAULT_STORE,
    project: Annotated[str, typer.Option(help="W&B project (default: the experiment name).")] = "",
    entity: Annotated[str | None, typer.Option(help="W&B entity (team or user).")] = None,
    group: Annotated[str | None, typer.Option(help="W&B group (default: the ol group).")] = None,
    name: Annotated[str | None, typer.Option(help="W&B run name (default: strategy · seed).")] = None,
    mode: Annotated[str, typer.Option(help="W&B mode: online or offline.")] = "online",
    logdir: Annotated[Path | None, typer.Option(help="TensorBoard log directory (required for tensorboard).")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Mirror a running run live until it ends.")] = False,
    artifacts: Annotated[bool, typer.Option("--artifacts", help="W&B: upload checkpoints as artifacts.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the W&B server to start a run.")] = 60.0,
) -> None:
    """Replay runs to W&B or TensorBoard; idempotent (only what is new is sent), live with --follow."""
    if to not in ("wandb", "tensorboard"):
        raise UsageError(f"replay: unknown destination {to!r}; choose wandb or tensorboard")
    if to == "tensorboard" and logdir is None:
        raise UsageError("replay: --to tensorboard needs --logdir DIR")
    if logdir is not None and logdir.exists() and not logdir.is_dir():
        raise UsageError(f"replay: --logdir {logdir} is a file, not a directory; give a directory")
    if to == "wandb" and mode not in ("online", "offline"):
        raise UsageError(f"replay: --mode is online or offline, not {mode!r}")
    if to == "tensorboard" and (artifacts or entity or project):
        raise UsageError("replay: --artifacts, --entity and --project are W&B options; drop them for tensorboard")
    failed = []
    for ref in runs:
        try:
            _replay_one(store, ref, to, project, entity, group, name, mode, logdir, follow, artifacts, timeout)
        except OlError as e:
            if len(runs) == 1:
                raise
            failed.append(ref)
            warn(f"{ref}: skipped, {e}")
    if failed and len(failed) == len(runs):
        raise UsageError(f"replay: none of the {len(runs)} runs could be replayed (see the warnings above)")


def _replay_one(store: Path, ref: str, to: str, project: str, entity: str | None, group: str | None,
                name: str | None, mode: str, logdir: Path | None, follow: bool, artifacts: bool,
                timeout: float) -> None:
    run_dir = resolve_run(store, ref)
    started = _started(run_dir, wait=follow)
    if to == "wandb":
        from ol.consumers.replay.wandb_sink import WandbSink

        sink = WandbSink(started, project=project or started.experiment, entity=entity, group=group, name=name,
                         mode=mode, directory=None, timeout=timeout)
        where = f"W&B run {sink.run.id} ({mode}, project {project or started.experiment})"
    else:
        from ol.consumers.replay.tensorboard_sink import TensorBoardSink

        target = Path(logdir) / started.experiment / started.run_id
        sink = TensorBoardSink(target, started)
        where = f"TensorBoard {target}"
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} events"),
                  EventsPerSecondColumn(), TimeElapsedColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task(f"replaying {started.run_id}", total=None)
        result = replay(run_dir, sink, follow=follow, artifacts=artifacts,
                        on_progress=lambda n, task=task: progress.update(task, completed=n))
    for w in result.warnings:
        warn(w)
    note = ""
    if result.still_running:
        note = " — the run is still running: replayed what exists; --follow mirrors it live"
    console.print(f"{started.run_id}: {result.steps:,} new step(s), {result.points:,} scalar(s) → {where}; "
                  f"status {result.status}{note}")


class EventsPerSecondColumn(TextColumn):
    """Events per second (rich's speed column speaks in bytes)."""

    def __init__(self):
        super().__init__("")

    def render(self, task):
        speed = task.finished_speed or task.speed
        return super().render(task) if speed is None else Text(f"{speed:,.0f} events/s")


def _started(run_dir: Path, wait: bool) -> RunStarted:
    """The run's first event; with ``wait``, given the time a just-started writer takes to flush it."""
    started = run_started(run_dir)
    if started is None and wait:
        started = next((e for _, e in Follower(run_dir).follow() if isinstance(e, RunStarted)), None)
    if started is None:
        raise UsageError(f"replay: {run_dir} has no readable run-started event; `ol verify` it")
    return started
