"""`ol runs`: the runs in a store with their derived status."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ol.cli.common import DEFAULT_STORE, StoreOption, console
from ol.store.catalog import STATUSES, list_runs, rank_streams

STATUS_STYLE = {"completed": "green", "running": "cyan", "interrupted": "yellow", "failed": "red",
                "crashed": "red"}


def runs(
    store: StoreOption = DEFAULT_STORE,
    experiment: Annotated[str | None, typer.Option(help="Only runs of this experiment.")] = None,
    status: Annotated[str | None, typer.Option(help=f"Only runs with this status: {', '.join(STATUSES)}.")] = None,
    sweep: Annotated[str | None, typer.Option(help="A sweep's grid: each point with its run's status "
                                              "(the same as `ol sweep --status NAME`).")] = None,
) -> None:
    """List the runs in a store: id, experiment, strategy, seed, status, last step, wall time."""
    if sweep is not None:
        from ol.cli.sweep_cmd import show_sweep

        show_sweep(store, sweep)
        return
    found = list_runs(store, experiment=experiment, status=status)
    if not found:
        console.print(f"no runs in {store}" + (" matching the filters" if (experiment or status) else ""))
        return
    table = Table(title=f"{len(found)} run(s) in {store}", title_justify="left")
    spread = any(r.world_size > 1 for r in found)  # runs on many processes (torchrun) get a ranks column
    for col in ("run", "experiment", "strategy", "seed", "status", "last step", "epoch", "started", "wall",
                *(["ranks"] if spread else [])):
        table.add_column(col, justify="right" if col in ("seed", "last step", "epoch", "wall") else "left")
    for r in found:
        status_text = f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]"
        if r.problem:
            status_text += f" [red](! {escape(r.problem)})[/]"
        table.add_row(
            r.run_id, r.experiment, r.strategy or "-", _opt(r.seed), status_text, _opt(r.last_step),
            _opt(r.last_epoch),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at)) if r.started_at else "-",
            f"{r.wall_time:.1f}s" if r.wall_time is not None else "-",
            *([_ranks(r)] if spread else []),
        )
    console.print(table)


def _ranks(run) -> str:
    """'2' when every rank's stream agrees with the run, else which ranks ended otherwise ('2, rank 1 crashed')."""
    if run.world_size <= 1:
        return "1"
    streams = rank_streams(run.dir, run)
    odd = [f"rank {s.rank} {s.status}" for s in streams[1:] if s.status != run.status]
    missing = run.world_size - len(streams)
    return ", ".join([str(run.world_size), *odd, *([f"{missing} never started"] if missing > 0 else [])])


def _opt(value) -> str:
    return "-" if value is None else str(value)
