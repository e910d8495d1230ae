"""What the commands share: the store option, run resolution, the console, error output."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

StoreOption = Annotated[
    Path,
    typer.Option("--store", envvar="OL_STORE", help="Store root holding the runs (env OL_STORE).",
                 show_default=True),
]
DEFAULT_STORE = Path("runs")

# piped output (no terminal) gets a wide console so tables are not squeezed to 80 columns
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False)


def complete_runs(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of a run argument: the store's run ids, 'latest', and EXPERIMENT/STRATEGY names."""
    from ol.store.catalog import iter_run_dirs

    store = Path(ctx.params.get("store") or os.environ.get("OL_STORE") or DEFAULT_STORE)
    try:
        dirs = list(iter_run_dirs(store))
    except OSError:
        return []
    names = ["latest", *sorted({d.name for d in dirs})]
    return [n for n in names if n.startswith(incomplete)]


def complete_experiments(incomplete: str) -> list[str]:
    """Shell completion of an experiment name, without importing any experiment (so without torch)."""
    return sorted(n for n in experiment_names() if n.startswith(incomplete))


def experiment_names() -> set[str]:
    """Experiment names registered now: the built-in packages of ol.experiments and the names of the
    ol.experiments entry points — found without importing either."""
    import pkgutil
    from importlib.metadata import entry_points
    from importlib.util import find_spec

    builtin = find_spec("ol.experiments").submodule_search_locations or []
    return {m.name for m in pkgutil.iter_modules(builtin)} | {ep.name for ep in entry_points(group="ol.experiments")}
