"""What the commands share, defined once: the store (option, environment variable and default, resolved
here only), the run arguments, the rank and console-mode options, the consoles, and ``warn``. The output
options (``--format``/``-f``, ``--out``/``-o``) are in ``output.py``; ``--debug`` and ``--no-color`` are
the root's (``ol --debug runs`` and ``ol runs --debug`` both work: see app.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ol.terminal import shown

STORE_ENV = "OL_STORE"
DEFAULT_STORE = Path("runs")
StoreOption = Annotated[
    Path,
    typer.Option("--store", envvar=STORE_ENV, help=f"Store root holding the runs (env {STORE_ENV}).",
                 show_default=True),
]
RankOption = Annotated[int, typer.Option("--rank", help="For a run on many processes (torchrun): this rank's "
                                         "stream (default 0, the run's own).")]
LiveOption = Annotated[bool, typer.Option("--live", help="Full-screen console: header, metrics sidebar, curve.")]
SilentOption = Annotated[bool, typer.Option("--silent", help="Console: the progress bar only.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No console; print only what a script needs.")]

# piped output (no terminal) gets a wide console so tables are not squeezed to 80 columns
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
# one message is one line however long (a path from a deep temporary directory): the terminal wraps it, scripts grep it
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def store_root(given: Path | None = None) -> Path:
    """The store a command works on: the one given, else $OL_STORE, else ./runs. The only place that decides."""
    return Path(given) if given else Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


def warn(message: str, label: str = "warning") -> None:
    """One yellow line on stderr; the message is printed as written (no rich markup inside it)."""
    err_console.print(f"[yellow]{label}:[/] {shown(message)}")


def console_mode(live: bool, silent: bool, quiet: bool, command: str) -> str:
    chosen = [name for name, on in (("live", live), ("silent", silent), ("quiet", quiet)) if on]
    if len(chosen) > 1:
        from ol.errors import UsageError

        raise UsageError(f"{command}: --{chosen[0]} and --{chosen[1]} conflict", hint="pick one console mode")
    return chosen[0] if chosen else "normal"


def complete_runs(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of a run argument: the store's run ids, 'latest', and EXPERIMENT/STRATEGY names."""
    from ol.store import iter_run_dirs

    store = store_root(ctx.params.get("store"))
    try:
        dirs = list(iter_run_dirs(store))
    except OSError:
        return []
    names = ["latest", *sorted({d.name for d in dirs})]
    return [n for n in names if n.startswith(incomplete)]


def complete_metrics(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of a metric option: the metrics the store's runs logged, spelled as `-m` takes them."""
    try:
        from ol.consumers.analytics.metric_names import spellings
        from ol.consumers.analytics.sql import connect

        names = spellings(connect(store_root(ctx.params.get("store"))))
    except Exception:  # completion must never print a traceback into the user's shell
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_experiments(incomplete: str) -> list[str]:
    """Shell completion of an experiment name, without importing any experiment (so without torch)."""
    return sorted(n for n in experiment_names() if n.startswith(incomplete))


def experiment_names() -> set[str]:
    """Experiment names registered now (the ol.experiments entry points, ol's own among them), found without
    importing any."""
    from importlib.metadata import entry_points

    return {ep.name for ep in entry_points(group="ol.experiments")}


RUN_HELP = "Run id or prefix, run directory, 'latest' or EXPERIMENT/STRATEGY."
RunArgument = Annotated[str, typer.Argument(help=RUN_HELP, autocompletion=complete_runs)]
RunsArgument = Annotated[list[str], typer.Argument(help=f"Runs: {RUN_HELP}", autocompletion=complete_runs)]
