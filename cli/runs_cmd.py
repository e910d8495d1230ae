"""`ol runs`: the runs in a store with their derived status."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ol.cli.common import DEFAULT_STORE, StoreOption, console
from ol.schemas import OlError
from ol.store.catalog import STATUSES, list_runs, rank_streams
from ol.store.fold import view_of

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
    declared = any(r.contract.main_metric for r in found)  # runs that said what their main metric is
    main_cols = ["main metric", "best", "target"] if declared else []
    for col in ("run", "experiment", "strategy", "seed", "status", "last step", "epoch", *main_cols, "started",
                "wall", *(["ranks"] if spread else [])):
        table.add_column(col, justify="right" if col in ("seed", "last step", "epoch", "best", "wall") else "left")
    for r in found:
        status_text = f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]"
        if r.problem:
            status_text += f" [red](! {escape(r.problem)})[/]"
        table.add_row(
            r.run_id, r.experiment, r.strategy or "-", _opt(r.seed), status_text, _opt(r.last_step),
            _opt(r.last_epoch), *(_main_metric(r) if declared else []),
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


def _main_metric(run) -> list[str]:
    """The run's main metric as it declared it, its best value so far (at which epoch) and its target: from
    the one fold of the log every reader uses, cached beside the log once the run is sealed."""
    contract = run.contract
    if not contract.main_metric:
        return ["-", "-", "-"]
    arrow = {"higher": " ↑", "lower": " ↓"}.get(contract.direction or "", "")
    try:
        view = view_of(run.dir)
    except (OlError, OSError) as e:  # a log damaged beyond reading: say so in the row, list the rest
        return [escape(contract.main_metric) + arrow, f"[red]? {escape(str(e))[:40]}[/]", "-"]
    at = "" if view.best_epoch is None else f" @{view.best_epoch}"
    best = "-" if view.best is None else f"{view.best:.4g}{at}"
    if contract.target is None:
        target = "-"
    elif view.target_epoch is not None:
        target = f"[green]{contract.target:g} ✓ @{view.target_epoch}[/]"
    else:
        target = f"{contract.target:g} ✗"
    return [escape(contract.main_metric) + arrow, best, target]


def _opt(value) -> str:
    return "-" if value is None else str(value)
