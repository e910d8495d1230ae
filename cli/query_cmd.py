"""`ol query`: DuckDB SQL over all runs, read-only."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from ol.cli.common import DEFAULT_STORE, StoreOption, console, err_console, warn
from ol.cli.index_cmd import indexing_progress
from ol.cli.output import format_option, out_option
from ol.consumers.analytics.choices import FORMATS
from ol.errors import UsageError
from ol.store import resolve_run
from ol.terminal import printable

if TYPE_CHECKING:
    from ol.consumers.analytics.sql import StoreConnection

T = TypeVar("T")
FormatOption = format_option(f"Output: {', '.join(FORMATS)} (default: table on a terminal, tsv when piped, or "
                             "what --out's suffix says).")


def query(
    sql: Annotated[str | None, typer.Argument(help="SQL over the views runs, steps, epochs, metrics, "
                                                    "checkpoints, notes, events.")] = None,
    store: StoreOption = DEFAULT_STORE,
    runs: Annotated[list[str] | None, typer.Option("--runs", help="Only these runs (repeatable).")] = None,
    param: Annotated[list[str] | None, typer.Option("-p", "--param", help="Named parameter NAME=VALUE, used "
                                                    "as $NAME in the SQL (repeatable).")] = None,
    fmt: FormatOption = None,
    out: out_option() = None,
    schema: Annotated[bool, typer.Option("--schema", help="Print the views and their columns.")] = False,
    memory_limit: Annotated[str, typer.Option("--memory-limit", help="Memory the query may use, e.g. 512MB, "
                                              "8GB; past it the query stops with one line.")] = "4GB",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds the query may run (0: no limit).")] = 0,
) -> None:
    """Run DuckDB SQL over every run in a store (read-only); runs sealed since the last look are indexed first."""
    from ol.consumers.analytics import formats  # pyarrow and DuckDB load with the query, not at start-up
    from ol.consumers.analytics.sql import Limits, connect

    if fmt is None:  # a table for people; for a file, what its name says (x.csv, x.parquet), else TSV
        named = out.suffix[1:].lower() if out is not None else ""
        fmt = named if named in FORMATS and named != "table" else "table" if sys.stdout.isatty() and out is None \
            else "tsv"
    if fmt not in FORMATS:
        raise UsageError(f"query: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not schema and not sql:
        raise UsageError("query: give the SQL to run, or --schema to see the views")
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", memory_limit.strip()):
        raise UsageError(f"query: --memory-limit {memory_limit!r} is not a size; write e.g. 512MB or 8GB")
    if timeout < 0:
        raise UsageError(f"query: --timeout must be 0 (no limit) or more seconds, got {timeout:g}")
    limits = Limits(memory=memory_limit.strip(), seconds=timeout or None)
    params = _params(param or [])
    run_dirs = [resolve_run(store, r) for r in runs] if runs else None
    with indexing_progress() as progress:
        conn = connect(store, run_dirs, progress=progress, limits=limits)
    for warning in conn.warnings:
        warn(warning)
    if schema:
        for view, cols in conn.schema().items():
            console.print(f"[bold]{view}[/]: " + ", ".join(f"{c} [dim]{t}[/]" for c, t in cols))
        return
    if fmt == "table" and out is None:
        console.print(interruptible(conn, lambda: _rich(conn.stream(sql, params))))
        return
    rows = interruptible(conn, lambda: formats.write_stream(conn.stream(sql, params), "csv" if fmt == "table"
                                                            else fmt, out))
    if out is not None:
        err_console.print(f"{rows} row(s) → {out}")


def interruptible(conn: StoreConnection, work: Callable[[], T]) -> T:
    """Run ``work`` on this (the main) thread so that Ctrl+C interrupts DuckDB at once.

    While a query runs, SIGINT only records that it came; the C-level handler also writes the signal
    number to the wakeup fd at once, even while this thread is inside DuckDB, so a watcher thread
    blocked on that pipe calls ``conn.interrupt()`` and the query returns; then KeyboardInterrupt is
    raised here, at one known point (the one-line "interrupted", exit 130). The query never runs on a
    helper thread: a thread still inside DuckDB when the interpreter exits aborts the process
    ("FATAL: exception not rethrown").
    """
    interrupted = threading.Event()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous_handler = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())
    previous_fd = signal.set_wakeup_fd(write_end)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            got = os.read(read_end, 64)
            if not done.is_set() and signal.SIGINT in got:
                conn.interrupt()

    watcher = threading.Thread(target=watch, name="ol-query-interrupt", daemon=True)
    watcher.start()
    try:
        result = work()
    except Exception:
        if interrupted.is_set():  # whatever DuckDB raised, it raised because it was interrupted
            raise KeyboardInterrupt from None
        raise
    finally:
        done.set()
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGINT, previous_handler)
        os.write(write_end, b"\0")  # wake the watcher so it sees it is done
        watcher.join(1.0)
        os.close(read_end)
        os.close(write_end)
    if interrupted.is_set():  # Ctrl+C as the query finished: still the user's last word
        raise KeyboardInterrupt
    return result


def _params(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name.isidentifier():
            raise UsageError(f"query: -p expects NAME=VALUE, got {pair!r}")
        out[name] = _typed(value)
    return out


def _typed(value: str):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _rich(reader, limit: int = 1000) -> Table:
    """The first ``limit`` rows as a table; the rest are counted as they stream past, never held."""
    from rich.text import Text

    from ol.consumers.analytics import formats

    view = Table(show_edge=False)
    for name in reader.schema.names:
        view.add_column(Text(printable(name)), overflow="fold")
    total = 0
    for batch in reader:
        if total < limit:
            for row in batch.slice(0, limit - total).to_pylist():
                # values are data, never markup: an error text like "[pair.cc:553]" is printed as it is
                view.add_row(*[Text(printable(formats.cell(v, None))) for v in row.values()])
        total += batch.num_rows
    if total > limit:
        view.caption = f"first {limit:,} of {total:,} rows; use --format csv or --out for all"
    return view
