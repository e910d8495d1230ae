"""`ol events`: print a run's events, once or following the live log."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, RankOption, RunArgument, StoreOption, err_console, warn
from ol.cli.output import format_option
from ol.consumers.console.event_lines import event_json, event_line
from ol.errors import StoreError, UsageError
from ol.schemas import EVENT_TYPES, event_kind
from ol.store import Follower, rank_stream, resolve_run

KINDS = [event_kind(t) for t in EVENT_TYPES]


EVENT_FORMATS = ("text", "jsonl")


def events(
    run: RunArgument,
    store: StoreOption = DEFAULT_STORE,
    kind: Annotated[list[str] | None, typer.Option("--kind", "-k", help="Only these kinds (repeatable).")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing as the run writes.")] = False,
    fmt: format_option("text (one line per event, the default) or jsonl (NaN/inf as null, for jq).") = None,
    as_json: Annotated[bool, typer.Option("--json", help="Short for --format jsonl.")] = False,
    rank: RankOption = 0,
) -> None:
    """Print a run's events in order, as text lines or JSON lines."""
    for k in kind or []:
        if k not in KINDS:
            raise UsageError(f"events: unknown kind {k!r}", hint=f"choose from {', '.join(KINDS)}")
    if fmt is not None and fmt not in EVENT_FORMATS:
        raise UsageError(f"events: unknown --format {fmt!r}", hint=f"choose one of {', '.join(EVENT_FORMATS)}")
    as_json = as_json or fmt == "jsonl"
    wanted = set(kind or KINDS)
    run_dir = rank_stream(resolve_run(store, run), rank)
    reader = Follower(run_dir)
    out = sys.stdout.buffer
    printed = 0
    for seq, event in reader.follow() if follow else reader.events():
        printed += 1
        if event_kind(event) not in wanted:
            continue
        out.write(event_json(seq, event) + b"\n" if as_json else (event_line(seq, event) + "\n").encode())
        if follow:
            out.flush()
    out.flush()
    for problem in reader.report.problems():
        warn(problem)
    if reader.report.unknown:
        skipped = ", ".join(f"{n} × {k}" for k, n in reader.report.unknown.items())
        warn(f"skipped events of kinds this ol does not know: {skipped}", label="note")
    if not printed and reader.report.problems():
        raise StoreError(f"events: run {run_dir.name} has no readable event", hint=f"run `ol verify {run_dir.name}`")
    if not printed:
        err_console.print(f"note: run {run_dir.name} holds no events yet (a writer that stopped before its first "
                          "write leaves a run like this)")
