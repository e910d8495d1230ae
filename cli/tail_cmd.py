"""`ol tail`: the training console for a run, from another terminal (live or replayed)."""

from __future__ import annotations

from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, StoreOption, complete_runs, console
from ol.consumers.console.view import follow_console
from ol.schemas import OlError
from ol.store.refs import rank_stream, resolve_run
from ol.store.rundir import writer_active


def tail(
    run: Annotated[str, typer.Argument(help="Run id or prefix, run directory, 'latest' or EXPERIMENT/STRATEGY.",
                                autocompletion=complete_runs)],
    store: StoreOption = DEFAULT_STORE,
    live: Annotated[bool, typer.Option("--live", help="Full-screen layout with a metrics sidebar.")] = False,
    silent: Annotated[bool, typer.Option("--silent", help="Progress bar only.")] = False,
    rank: Annotated[int, typer.Option("--rank", help="For a run on many processes (torchrun): this rank's "
                                      "stream (default 0, the run's own).")] = 0,
) -> None:
    """Show a run's console: follows a running run until it ends, replays a finished one."""
    if live and silent:
        raise OlError("tail: --live and --silent conflict; pick one")
    run_dir = rank_stream(resolve_run(store, run), rank)
    mode = "live" if live else "silent" if silent else "normal"
    follow_console(run_dir, mode, until=lambda: not writer_active(run_dir), console=console)
