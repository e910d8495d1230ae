"""`ol verify`: integrity report of runs' logs; --repair cuts a torn tail."""

from __future__ import annotations

from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, StoreOption, complete_runs, console
from ol.errors import StoreError
from ol.store import VerifyReport, iter_run_dirs, other_ranks, repair_run, require_store, resolve_run, verify_run


def verify(
    runs: Annotated[list[str] | None, typer.Argument(help="Runs to check (id, prefix, directory, 'latest').",
                                autocompletion=complete_runs)] = None,
    store: StoreOption = DEFAULT_STORE,
    all_runs: Annotated[bool, typer.Option("--all", help="Check every run in the store.")] = False,
    repair: Annotated[bool, typer.Option(help="Cut a torn tail (only when no writer holds the run).")] = False,
) -> None:
    """Check frames, events, lost ranges and torn tails; exit 1 if any run has a problem."""
    if all_runs and runs:
        raise StoreError("verify: pass run references or --all, not both")
    if not all_runs and not runs:
        raise StoreError("verify: name at least one run, or pass --all")
    dirs = list(iter_run_dirs(require_store(store))) if all_runs else [resolve_run(store, r) for r in runs]
    if all_runs and not dirs:
        raise StoreError(f"verify: no runs in {store}")
    # a run on many processes (torchrun) is checked stream by stream: rank 0's log, then each other rank's
    streams = [stream for run_dir in dirs for stream in [run_dir] + [path for _, path in other_ranks(run_dir)]]
    bad = 0
    for run_dir in streams:
        report = verify_run(run_dir)
        if repair and report.torn_tail is not None and not report.writing:
            report.repaired_bytes = repair_run(run_dir)
            report = _after_repair(report)
        _print(report)
        bad += not report.ok
    if bad:
        what = "run(s)" if len(streams) == len(dirs) else "stream(s)"
        console.print(f"[red]{bad} of {len(streams)} {what} have problems[/]")
        raise typer.Exit(1)


def _after_repair(report: VerifyReport) -> VerifyReport:
    cut = report.repaired_bytes
    fresh = verify_run(report.run_dir)
    fresh.repaired_bytes = cut
    return fresh


def _print(r: VerifyReport) -> None:
    mark = "[green]ok[/]" if r.ok else "[red]PROBLEMS[/]"
    live = " (writer active)" if r.writing else ""
    console.print(f"{mark} {r.run_dir}{live}: {r.segments} segment(s), {r.frames} frame(s), {r.events} event(s)")
    for p in r.problems:
        console.print(f"   [red]problem:[/] {p}")
    for note in r.notes:
        console.print(f"   note: {note}")
    for lost in r.lost:
        console.print(f"   [red]lost:[/] {lost.describe()}")
    for damage in r.damaged:
        console.print(f"   [red]damaged:[/] {damage.describe()}")
    if r.torn_tail is not None:
        t = r.torn_tail
        what = "write in flight" if r.writing else "torn tail (run `ol verify --repair` to cut it)"
        console.print(f"   [yellow]{what}:[/] {t.nbytes} byte(s) at segment {t.segment} offset {t.offset}")
    if r.repaired_bytes:
        console.print(f"   [green]repaired:[/] cut {r.repaired_bytes} byte(s) of torn tail")
    for kind, n in r.unknown.items():
        console.print(f"   note: {n} event(s) of unknown kind {kind!r} skipped (written by a newer ol)")
    for message in r.invalid:
        console.print(f"   [red]invalid event:[/] {message}")
