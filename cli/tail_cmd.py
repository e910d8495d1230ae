"""`ol tail`: the training console for a run, from another terminal (live or replayed)."""

from __future__ import annotations

from ol.cli.common import (
    DEFAULT_STORE,
    LiveOption,
    QuietOption,
    RankOption,
    RunArgument,
    SilentOption,
    StoreOption,
    console,
    console_mode,
    warn,
)
from ol.consumers.console.view import follow_console
from ol.store import rank_stream, resolve_run


def tail(
    run: RunArgument,
    store: StoreOption = DEFAULT_STORE,
    live: LiveOption = False,
    silent: SilentOption = False,
    quiet: QuietOption = False,
    rank: RankOption = 0,
) -> None:
    """Show a run's console: follows a running run until it ends, replays a finished one. With --quiet,
    wait silently and print the run's status when it ends (a script's `wait for this run`)."""
    mode = console_mode(live, silent, quiet, "tail")
    run_dir = rank_stream(resolve_run(store, run), rank)
    state = follow_console(run_dir, mode, console=console)
    if mode == "quiet":
        for problem in state.problems:
            warn(problem)
        print(state.status if state.status != "running" else "crashed", flush=True)
