"""`ol events`: print a run's events, once or following the live log."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, StoreOption, complete_runs, err_console
from ol.consumers.console.event_lines import event_json, event_line
from ol.schemas import EVENT_TYPES, RunEnded, event_kind
from ol.store.errors import StoreError
from ol.store.reader import LogReader
from ol.store.refs import rank_stream, resolve_run
from ol.store.rundir import log_path, writer_active

KINDS = [event_kind(t) for t in EVENT_TYPES]


def events(
    run: Annotated[str, typer.Argument(help="Run id or prefix, run directory, 'latest' or EXPERIMENT/STRATEGY.",
                                autocompletion=complete_runs)],
    store: StoreOption = DEFAULT_STORE,
    kind: Annotated[list[str] | None, typer.Option("--kind", "-k", help="Only these kinds (repeatable).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing as the run writes.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines (NaN/inf as null), for jq.")] = False,
    rank: Annotated[int, typer.Option("--rank", help="For a run on many processes (torchrun): this rank's "
                                      "stream (default 0, the run's own).")] = 0,
) -> None:
    """Print a run's events in order, as text lines or JSON lines."""
    for k in kind or []:
        if k not in KINDS:
            raise StoreError(f"events: unknown kind {k!r}; choose from {', '.join(KINDS)}")
    wanted = set(kind or KINDS)
    run_dir = rank_stream(resolve_run(store, run), rank)
    reader = LogReader(log_path(run_dir))
    out = sys.stdout.buffer
    ended = False

    def finished() -> bool:
        return ended or not writer_active(run_dir)

    stream = reader.follow(finished) if follow else reader.events()
    printed = 0
    for seq, event in stream:
        printed += 1
        ended = isinstance(event, RunEnded)
        if event_kind(event) not in wanted:
            continue
        out.write(event_json(seq, event) + b"\n" if as_json else (event_line(seq, event) + "\n").encode())
        if follow:
            out.flush()
    out.flush()
    for problem in reader.problems():
        err_console.print(f"[yellow]warning:[/] {problem}")
    if reader.unknown:
        skipped = ", ".join(f"{n} × {k}" for k, n in reader.unknown.items())
        err_console.print(f"[yellow]note:[/] skipped events of kinds this ol does not know: {skipped}")
    if not printed and reader.problems():
        raise StoreError(f"events: run {run_dir.name} has no readable event; run `ol verify {run_dir.name}`")
    if not printed:
        err_console.print(f"note: run {run_dir.name} holds no events yet (a writer that stopped before its first "
                          "write leaves a run like this)")
