"""`ol runs`: the runs in a store with their derived status and what each said it is."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, StoreOption, console
from ol.cli.output import ListingFormat, chosen_format, emit
from ol.errors import OlError, UsageError
from ol.store import STATUSES, main_fields, rank_streams

STATUS_STYLE = {"completed": "green", "running": "cyan", "interrupted": "yellow", "failed": "red",
                "crashed": "red"}
NUMERIC = ("seed", "last_step", "last_epoch", "main_best", "main_best_epoch", "target", "target_epoch", "wall_time")


def runs(
    store: StoreOption = DEFAULT_STORE,
    experiment: Annotated[str | None, typer.Option(help="Only runs of this experiment.")] = None,
    status: Annotated[str | None, typer.Option(help=f"Only runs with this status: {', '.join(STATUSES)}.")] = None,
    sweep: Annotated[str | None, typer.Option(help="A sweep's grid: each point with its run's status "
                                              "(the same as `ol sweep --status NAME`).")] = None,
    fmt: ListingFormat = None,
) -> None:
    """List the runs in a store: id, experiment, strategy, seed, status, progress, main metric, wall time."""
    if sweep is not None:
        from ol.cli.sweep_cmd import show_sweep

        show_sweep(store, sweep)
        return
    from ol.store import open_snapshot  # the index (pyarrow) loads with the listing, not at start-up

    fmt = chosen_format(fmt, "runs")
    if status is not None and status not in STATUSES:
        raise UsageError(f"runs: unknown status {status!r}; choose one of {', '.join(STATUSES)}")
    snapshot = open_snapshot(store)
    found = [r for r in snapshot.runs
             if (experiment is None or r.experiment == experiment) and (status is None or r.status == status)]
    if not found and fmt == "table":
        console.print(f"no runs in {store}" + (" matching the filters" if (experiment or status) else ""))
        return
    spread = any(r.world_size > 1 for r in found)  # runs on many processes (torchrun) get a ranks column
    declared = any(r.contract.main_metric for r in found)  # runs that said what their main metric is
    named = any(r.name or r.tags for r in found)  # runs given a human name or tags get those columns
    jobs = any(r.job or r.output for r in found)  # runs a cluster job or a sweep ran: where to find them
    columns = ["run_id", *(["name", "tags"] if named else []), "experiment", "strategy", "seed", "status",
               "last_step", "last_epoch",
               *(["main_metric", "direction", "main_best", "main_best_epoch", "target", "target_epoch"] if declared
                 else []),
               "started", "wall_time", *(["ranks"] if spread else []), *(["job"] if jobs else []),
               *(["output"] if jobs and fmt != "table" else []), "problem"]  # a path: for scripts, not the table
    rows = [_row(snapshot, r, declared, spread) for r in found]
    if fmt == "table" and not any(r["problem"] for r in rows):
        columns.remove("problem")
    people = [c for c in columns if c not in ("direction", "main_best_epoch", "target_epoch")]
    emit(rows, columns, fmt, title=f"{len(found)} run(s) in {store}", right=NUMERIC, style=_style,
         for_people=(people, _readable) if declared else None)


def _readable(row: dict) -> dict:
    """The table's cells: 'val_loss ↓', '0.9182 @11', '0.92 ✓ @11' instead of six columns."""
    out = dict(row)
    if row.get("main_metric"):
        out["main_metric"] = row["main_metric"] + {"higher": " ↑", "lower": " ↓"}.get(row.get("direction") or "", "")
    if row.get("main_best") is not None:
        epoch = row.get("main_best_epoch")
        out["main_best"] = f"{row['main_best']:.4g}" + ("" if epoch is None else f" @{epoch}")
    if row.get("target") is not None:
        reached = row.get("target_epoch")
        out["target"] = f"{row['target']:g} " + ("✗" if reached is None else f"✓ @{reached}")
    return out


def _row(snapshot, r, declared: bool, spread: bool) -> dict:
    row = {"run_id": r.run_id, "name": r.name, "tags": list(r.tags), "experiment": r.experiment,
           "strategy": r.strategy, "seed": r.seed,
           "status": r.status, "last_step": r.last_step, "last_epoch": r.last_epoch,
           "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at)) if r.started_at else None,
           "wall_time": None if r.wall_time is None else round(r.wall_time, 1), "job": r.job, "output": r.output,
           "problem": _problem(r)}
    if declared:
        row.update(_main_metric(snapshot, r))
    if spread:
        row["ranks"] = _ranks(r)
    return row


def _main_metric(snapshot, run) -> dict:
    """The run's main metric as it declared it, its best value so far (at which epoch), its target and when it
    reached it: the record's fields (from the one fold every reader uses, kept by the index once sealed)."""
    if run.contract.main_metric:
        try:
            snapshot.folded(run)
        except (OlError, OSError) as e:  # a log damaged beyond reading: say so in the row, list the rest
            run.problem = run.problem or str(e)
    out = main_fields(run)
    out.pop("main_final")
    if out["main_best"] is not None:
        out["main_best"] = round(out["main_best"], 6)
    return out


def _problem(run) -> str:
    """Why the run's log could not be read whole, if it could not (a damaged last frame makes a completed run
    look crashed: the row says so)."""
    problems = run.problems()
    if not problems:
        return ""
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{problems[0]}{more}; run `ol verify {run.run_id}`"


def _style(column: str, value) -> str | None:
    if column == "status":
        return STATUS_STYLE.get(value)
    if column == "problem":
        return "red"
    if column == "target" and isinstance(value, str) and "✓" in value:
        return "green"
    return None


def _ranks(run) -> str:
    """'2' when every rank's stream agrees with the run, else which ranks ended otherwise ('2, rank 1 crashed')."""
    if run.world_size <= 1:
        return "1"
    streams = rank_streams(run.dir, run)
    odd = [f"rank {s.rank} {s.status}" for s in streams[1:] if s.status != run.status]
    missing = run.world_size - len(streams)
    return ", ".join([str(run.world_size), *odd, *([f"{missing} never started"] if missing > 0 else [])])
